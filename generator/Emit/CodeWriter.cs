using System.Text;

namespace FastRelay.Generator.Emit;

/// <summary>A StringBuilder that remembers indentation; both emitters write through it. Lines end with '\n' on
/// every OS so generated files are byte-identical everywhere (the expected-output tests depend on it).</summary>
internal sealed class CodeWriter
{
    private readonly StringBuilder _text = new();
    private readonly string _indentUnit;
    private int _depth;

    public CodeWriter(string indentUnit = "    ") => _indentUnit = indentUnit;

    public CodeWriter Line(string line = "")
    {
        if (line.Length > 0)
            for (var i = 0; i < _depth; i++)
                _text.Append(_indentUnit);
        _text.Append(line).Append('\n');
        return this;
    }

    public CodeWriter Open(string line)
    {
        Line(line);
        Line("{");
        _depth++;
        return this;
    }

    public CodeWriter Close(string suffix = "")
    {
        _depth--;
        return Line("}" + suffix);
    }

    public CodeWriter Indent()
    {
        _depth++;
        return this;
    }

    public CodeWriter Outdent()
    {
        _depth--;
        return this;
    }

    public override string ToString() => _text.ToString();
}
