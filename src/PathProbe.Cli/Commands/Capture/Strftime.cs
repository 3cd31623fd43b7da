using System.Globalization;
using System.Text;

namespace PathProbe.Cli.Commands.Capture;

/// <summary>
/// C's strftime(3) in the C locale, for file names of <c>capture -w NAME -G SECONDS</c> as tcpdump makes them (tcpdump
/// runs the -w name through strftime with the local time when -G is given). Conversions: %a %A %b %B %c %C %d %D %e %F
/// %g %G %h %H %I %j %k %l %m %M %n %p %P %r %R %s %S %t %T %u %U %V %w %W %x %X %y %Y %z %Z %%; the E and O modifiers
/// are accepted and ignored, as in the C locale. Anything else is copied as it is.
/// </summary>
public static class Strftime
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    private static readonly string[] Days = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
    private static readonly string[] Months = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];

    /// <summary>True when <paramref name="format"/> has a conversion (tcpdump warns when -G is used without one: each
    /// new file overwrites the previous).</summary>
    public static bool HasConversion(string format)
    {
        for (int i = 0; i + 1 < format.Length; i++)
        {
            if (format[i] != '%') continue;
            if (format[i + 1] != '%') return true;
            i++;
        }
        return false;
    }

    /// <summary>Formats <paramref name="time"/> in <paramref name="zone"/> (local time when null).</summary>
    public static string Format(string format, DateTimeOffset time, TimeZoneInfo? zone = null)
    {
        zone ??= TimeZoneInfo.Local;
        var t = TimeZoneInfo.ConvertTime(time, zone);
        var d = t.DateTime;
        var sb = new StringBuilder(format.Length + 16);
        for (int i = 0; i < format.Length; i++)
        {
            char c = format[i];
            if (c != '%' || i + 1 == format.Length) { sb.Append(c); continue; }
            char k = format[++i];
            if ((k == 'E' || k == 'O') && i + 1 < format.Length) k = format[++i];
            switch (k)
            {
                case 'a': sb.Append(Days[(int)d.DayOfWeek], 0, 3); break;
                case 'A': sb.Append(Days[(int)d.DayOfWeek]); break;
                case 'b': case 'h': sb.Append(Months[d.Month - 1], 0, 3); break;
                case 'B': sb.Append(Months[d.Month - 1]); break;
                case 'c': sb.Append(Format("%a %b %e %H:%M:%S %Y", time, zone)); break;
                case 'C': sb.Append((d.Year / 100).ToString("00", Inv)); break;
                case 'd': sb.Append(d.Day.ToString("00", Inv)); break;
                case 'D': case 'x': sb.Append(Format("%m/%d/%y", time, zone)); break;
                case 'e': sb.Append(d.Day.ToString(Inv).PadLeft(2)); break;
                case 'F': sb.Append(Format("%Y-%m-%d", time, zone)); break;
                case 'g': sb.Append((ISOWeek.GetYear(d) % 100).ToString("00", Inv)); break;
                case 'G': sb.Append(ISOWeek.GetYear(d).ToString(Inv)); break;
                case 'H': sb.Append(d.Hour.ToString("00", Inv)); break;
                case 'I': sb.Append(Hour12(d).ToString("00", Inv)); break;
                case 'j': sb.Append(d.DayOfYear.ToString("000", Inv)); break;
                case 'k': sb.Append(d.Hour.ToString(Inv).PadLeft(2)); break;
                case 'l': sb.Append(Hour12(d).ToString(Inv).PadLeft(2)); break;
                case 'm': sb.Append(d.Month.ToString("00", Inv)); break;
                case 'M': sb.Append(d.Minute.ToString("00", Inv)); break;
                case 'n': sb.Append('\n'); break;
                case 'p': sb.Append(d.Hour < 12 ? "AM" : "PM"); break;
                case 'P': sb.Append(d.Hour < 12 ? "am" : "pm"); break;
                case 'r': sb.Append(Format("%I:%M:%S %p", time, zone)); break;
                case 'R': sb.Append(Format("%H:%M", time, zone)); break;
                case 's': sb.Append(time.ToUnixTimeSeconds().ToString(Inv)); break;
                case 'S': sb.Append(d.Second.ToString("00", Inv)); break;
                case 't': sb.Append('\t'); break;
                case 'T': case 'X': sb.Append(Format("%H:%M:%S", time, zone)); break;
                case 'u': sb.Append(d.DayOfWeek == DayOfWeek.Sunday ? 7 : (int)d.DayOfWeek); break;
                case 'U': sb.Append(((d.DayOfYear + 6 - (int)d.DayOfWeek) / 7).ToString("00", Inv)); break;
                case 'V': sb.Append(ISOWeek.GetWeekOfYear(d).ToString("00", Inv)); break;
                case 'w': sb.Append((int)d.DayOfWeek); break;
                case 'W': sb.Append(((d.DayOfYear + 6 - ((int)d.DayOfWeek + 6) % 7) / 7).ToString("00", Inv)); break;
                case 'y': sb.Append((d.Year % 100).ToString("00", Inv)); break;
                case 'Y': sb.Append(d.Year.ToString(Inv)); break;
                case 'z':
                    var off = t.Offset;
                    sb.Append(off < TimeSpan.Zero ? '-' : '+').Append(Math.Abs(off.Hours).ToString("00", Inv)).Append(Math.Abs(off.Minutes).ToString("00", Inv));
                    break;
                case 'Z': sb.Append(ZoneAbbreviation(zone, d)); break;
                case '%': sb.Append('%'); break;
                default: sb.Append('%').Append(k); break;
            }
        }
        return sb.ToString();
    }

    private static int Hour12(DateTime d) => d.Hour % 12 == 0 ? 12 : d.Hour % 12;

    /// <summary>"UTC" for UTC; otherwise the zone's id as the system gives it (no abbreviations on every platform).</summary>
    private static string ZoneAbbreviation(TimeZoneInfo zone, DateTime local)
    {
        if (zone == TimeZoneInfo.Utc || zone.Id is "UTC" or "Etc/UTC") return "UTC";
        string name = zone.IsDaylightSavingTime(local) ? zone.DaylightName : zone.StandardName;
        return name.Replace(' ', '_').Replace('/', '_');
    }
}
