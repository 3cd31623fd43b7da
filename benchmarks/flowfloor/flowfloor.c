/*
 * flowfloor: the floor PathProbe's analysis is compared with. Reads a capture with libpcap and, per packet,
 * decodes Ethernet (802.1Q/802.1ad tags), Linux SLL, raw IP and BSD loopback, IPv4 (options) and IPv6 (hop-by-hop,
 * routing, destination options and fragment headers), TCP and UDP ports, and counts packets and bytes per
 * direction in a hash table of 5-tuples (canonical order, so both directions are one flow). Nothing else: the
 * honest cost of "read + decode + flow hash" in plain C.
 *
 *   cc -O2 -o flowfloor flowfloor.c -lpcap
 *   flowfloor FILE           prints packets, decoded, flows and per-direction totals
 */
#include <pcap/pcap.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct key {
    uint8_t a[16], b[16]; /* a <= b (memcmp), each IPv4 mapped into 16 bytes */
    uint16_t pa, pb;
    uint8_t proto, used;
};

struct flow {
    struct key k;
    uint64_t pkts[2], bytes[2]; /* [0]: a -> b, [1]: b -> a */
};

static struct flow *table;
static size_t cap = 1 << 16, count;

static uint64_t hash_key(const struct key *k)
{
    /* FNV-1a over the key bytes, then a 64-bit mix */
    const uint8_t *p = (const uint8_t *)k;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < offsetof(struct key, used); i++) { h ^= p[i]; h *= 1099511628211ull; }
    h ^= h >> 33; h *= 0xff51afd7ed558ccdull; h ^= h >> 33;
    return h;
}

static struct flow *lookup(const struct key *k)
{
    size_t mask = cap - 1, i = hash_key(k) & mask;
    for (;;) {
        struct flow *f = &table[i];
        if (!f->k.used) {
            f->k = *k; f->k.used = 1; count++;
            return f;
        }
        if (memcmp(&f->k, k, offsetof(struct key, used)) == 0) return f;
        i = (i + 1) & mask;
    }
}

static void grow(void)
{
    struct flow *old = table;
    size_t oldcap = cap;
    cap *= 2; count = 0;
    table = calloc(cap, sizeof *table);
    if (!table) { perror("calloc"); exit(1); }
    for (size_t i = 0; i < oldcap; i++) {
        if (!old[i].k.used) continue;
        struct flow *f = lookup(&old[i].k);
        memcpy(f->pkts, old[i].pkts, sizeof f->pkts); memcpy(f->bytes, old[i].bytes, sizeof f->bytes);
    }
    free(old);
}

static inline uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static uint64_t packets, decoded, malformed;

static void account(const uint8_t *src, const uint8_t *dst, uint16_t sp, uint16_t dp, uint8_t proto, uint32_t wirelen)
{
    struct key k;
    memset(&k, 0, sizeof k);
    int dir = memcmp(src, dst, 16) > 0 || (memcmp(src, dst, 16) == 0 && sp > dp);
    if (!dir) { memcpy(k.a, src, 16); memcpy(k.b, dst, 16); k.pa = sp; k.pb = dp; }
    else { memcpy(k.a, dst, 16); memcpy(k.b, src, 16); k.pa = dp; k.pb = sp; }
    k.proto = proto;
    if ((count + 1) * 2 > cap) grow();
    struct flow *f = lookup(&k);
    f->pkts[dir]++; f->bytes[dir] += wirelen;
    decoded++;
}

static void transport(const uint8_t *src, const uint8_t *dst, uint8_t proto, const uint8_t *l4, size_t len,
                      int first_fragment, uint32_t wirelen)
{
    uint16_t sp = 0, dp = 0;
    if (first_fragment && (proto == 6 || proto == 17)) {
        size_t need = proto == 6 ? 20 : 8;
        if (len < need) { malformed++; return; }
        if (proto == 6 && (size_t)(l4[12] >> 4) * 4 < 20) { malformed++; return; }
        sp = be16(l4); dp = be16(l4 + 2);
    }
    account(src, dst, sp, dp, proto, wirelen);
}

static void ipv4(const uint8_t *p, size_t len, uint32_t wirelen)
{
    if (len < 20 || p[0] >> 4 != 4) { malformed++; return; }
    size_t ihl = (size_t)(p[0] & 15) * 4, total = be16(p + 2);
    if (ihl < 20 || total < ihl || len < ihl) { malformed++; return; }
    if (total < len) len = total;
    uint8_t src[16] = {0}, dst[16] = {0};
    src[10] = src[11] = dst[10] = dst[11] = 0xff;
    memcpy(src + 12, p + 12, 4); memcpy(dst + 12, p + 16, 4);
    int first = (be16(p + 6) & 0x1fff) == 0;
    transport(src, dst, p[9], p + ihl, len - ihl, first, wirelen);
}

static void ipv6(const uint8_t *p, size_t len, uint32_t wirelen)
{
    if (len < 40 || p[0] >> 4 != 6) { malformed++; return; }
    size_t plen = be16(p + 4), off = 40;
    if (plen + 40 < len) len = plen + 40;
    uint8_t next = p[6];
    int first = 1;
    for (int hops = 0; hops < 8; hops++) {
        if (next == 0 || next == 43 || next == 60) {
            if (len < off + 8) { malformed++; return; }
            next = p[off]; off += ((size_t)p[off + 1] + 1) * 8;
        } else if (next == 44) {
            if (len < off + 8) { malformed++; return; }
            first = (be16(p + off + 2) & 0xfff8) == 0;
            next = p[off]; off += 8;
        } else break;
    }
    if (off > len) { malformed++; return; }
    transport(p + 8, p + 24, next, p + off, len - off, first, wirelen);
}

static void network(uint16_t type, const uint8_t *p, size_t len, uint32_t wirelen)
{
    if (type == 0x0800) ipv4(p, len, wirelen);
    else if (type == 0x86dd) ipv6(p, len, wirelen);
}

static void frame(int linktype, const uint8_t *p, size_t len, uint32_t wirelen)
{
    packets++;
    switch (linktype) {
    case DLT_EN10MB: {
        if (len < 14) { malformed++; return; }
        uint16_t type = be16(p + 12);
        size_t off = 14;
        while ((type == 0x8100 || type == 0x88a8 || type == 0x9100) && len >= off + 4) {
            type = be16(p + off + 2); off += 4;
        }
        network(type, p + off, len - off, wirelen);
        break;
    }
    case DLT_LINUX_SLL:
        if (len < 16) { malformed++; return; }
        network(be16(p + 14), p + 16, len - 16, wirelen);
        break;
    case DLT_NULL: case DLT_LOOP:
        if (len < 4) { malformed++; return; }
        network((p[4] >> 4) == 6 ? 0x86dd : 0x0800, p + 4, len - 4, wirelen);
        break;
    default:
        if (linktype == 12 || linktype == 14 || linktype == 101) { /* raw IP: DLT_RAW differs between platforms */
            if (len < 1) { malformed++; return; }
            network((p[0] >> 4) == 6 ? 0x86dd : 0x0800, p, len, wirelen);
        } else malformed++;
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) { fprintf(stderr, "usage: flowfloor FILE\n"); return 2; }
    char err[PCAP_ERRBUF_SIZE];
    pcap_t *pc = pcap_open_offline(argv[1], err);
    if (!pc) { fprintf(stderr, "flowfloor: %s\n", err); return 2; }
    table = calloc(cap, sizeof *table);
    if (!table) { perror("calloc"); return 1; }
    int linktype = pcap_datalink(pc);
    struct pcap_pkthdr *h;
    const u_char *data;
    int rc;
    while ((rc = pcap_next_ex(pc, &h, &data)) == 1) frame(linktype, data, h->caplen, h->len);
    if (rc == PCAP_ERROR) fprintf(stderr, "flowfloor: %s\n", pcap_geterr(pc));
    uint64_t p0 = 0, p1 = 0, b0 = 0, b1 = 0;
    for (size_t i = 0; i < cap; i++)
        if (table[i].k.used) { p0 += table[i].pkts[0]; p1 += table[i].pkts[1]; b0 += table[i].bytes[0]; b1 += table[i].bytes[1]; }
    printf("packets %llu decoded %llu malformed %llu flows %zu a->b %llu pkts %llu bytes b->a %llu pkts %llu bytes\n",
           (unsigned long long)packets, (unsigned long long)decoded, (unsigned long long)malformed, count,
           (unsigned long long)p0, (unsigned long long)b0, (unsigned long long)p1, (unsigned long long)b1);
    pcap_close(pc);
    return rc == PCAP_ERROR ? 1 : 0;
}
