/// The one display escaper: every string that came from a file (a configuration, a job file,
/// a shard report, an image's own metadata such as a VHDX creator or a VMDK `createType`)
/// passes through it before it reaches a terminal. Control characters, DEL, C1 controls and
/// the Unicode line separators (`Unicode.Scalar.isControlOrLineSeparator`) are shown as
/// escapes, so a value can neither drive the terminal (ECMA-48 escape sequences start with
/// ESC or the C1 CSI) nor start a forged line of its own.
public enum DisplayText {
    /// `text` on one line: `\n`, `\r`, `\t` and the other controls as `\u{1B}` escapes.
    public static func escaped(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: \.isControlOrLineSeparator) else { return text }
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.isControlOrLineSeparator: out += "\\u{\(String(scalar.value, radix: 16, uppercase: true))}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// `text` with every line escaped but the line breaks it is made of kept: for a message
    /// of several lines, each of which may hold a value from a file.
    public static func escapedLines(_ text: String) -> String {
        // Long texts (plans of 46,000 tasks) hold no control character: one byte scan settles it.
        guard text.utf8.contains(where: { ($0 < 0x20 && $0 != 0x0A) || $0 == 0x7F || $0 == 0xC2 || $0 == 0xE2 }) else { return text }
        return text.split(separator: "\n", omittingEmptySubsequences: false).map { escaped(String($0)) }.joined(separator: "\n")
    }
}
