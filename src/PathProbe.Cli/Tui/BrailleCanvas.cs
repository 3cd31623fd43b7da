namespace PathProbe.Cli.Tui;

/// <summary>
/// A plot area of braille cells: 2 × 4 dots per terminal cell, one colour per cell (the highest-ranked dot wins),
/// and whole-cell characters for reference lines (drawn only where the cell has no dots).
/// </summary>
public sealed class BrailleCanvas
{
    // Dot bits of a braille cell by (column, row): U+2800 + bits.
    private static readonly int[,] Bits = { { 0x01, 0x02, 0x04, 0x40 }, { 0x08, 0x10, 0x20, 0x80 } };
    private readonly int[] _bits;
    private readonly int[] _rank;
    private readonly string?[] _style;
    private readonly char[] _line;
    private readonly string?[] _lineStyle;

    public BrailleCanvas(int columns, int rows)
    {
        Columns = Math.Max(1, columns);
        Rows = Math.Max(1, rows);
        _bits = new int[Columns * Rows];
        _rank = new int[Columns * Rows];
        _style = new string?[Columns * Rows];
        _line = new char[Columns * Rows];
        _lineStyle = new string?[Columns * Rows];
    }

    public int Columns { get; }
    public int Rows { get; }
    public int DotsX => Columns * 2;
    public int DotsY => Rows * 4;

    /// <summary>Sets the dot at (x, y), y = 0 at the bottom.</summary>
    public void Dot(int x, int y, string? style, int rank)
    {
        if (x < 0 || y < 0 || x >= DotsX || y >= DotsY) return;
        int top = DotsY - 1 - y;
        int cell = top / 4 * Columns + x / 2;
        _bits[cell] |= Bits[x % 2, top % 4];
        if (rank >= _rank[cell]) { _rank[cell] = rank; _style[cell] = style; }
    }

    public void VLine(int x, int y0, int y1, string? style, int rank)
    {
        if (y1 < y0) (y0, y1) = (y1, y0);
        for (int y = Math.Max(0, y0); y <= Math.Min(DotsY - 1, y1); y++) Dot(x, y, style, rank);
    }

    public void HLine(int x0, int x1, int y, string? style, int rank)
    {
        if (x1 < x0) (x0, x1) = (x1, x0);
        for (int x = Math.Max(0, x0); x <= Math.Min(DotsX - 1, x1); x++) Dot(x, y, style, rank);
    }

    /// <summary>A reference line across the whole width in character row <paramref name="row"/> (0 = top).</summary>
    public void RowLine(int row, char c, string? style)
    {
        if (row < 0 || row >= Rows) return;
        for (int i = 0; i < Columns; i++) { _line[row * Columns + i] = c; _lineStyle[row * Columns + i] = style; }
    }

    public void RenderRow(int row, StyledLine into)
    {
        for (int i = 0; i < Columns; i++)
        {
            int cell = row * Columns + i;
            if (_bits[cell] != 0) into.Add(((char)(0x2800 + _bits[cell])).ToString(), _style[cell]);
            else if (_line[cell] != '\0') into.Add(_line[cell].ToString(), _lineStyle[cell]);
            else into.Add(" ");
        }
    }
}
