/// The one quoting function of every shell text imgship prints: plan scripts
/// (`ScriptRenderer`) and the import commands `export --target aws` prints. A value becomes
/// exactly one word whatever it holds, and never spans lines.
public enum ShellQuoting {
    /// `text` as one bash word of literal text: bare when every byte is plainly safe,
    /// single-quoted otherwise, and `$'...'` (bash manual, "ANSI-C Quoting") when it holds a
    /// control character or a line separator, so it stays on its line.
    public static func word(_ text: String) -> String {
        let safe =
            !text.isEmpty
            && text.utf8.allSatisfy { byte in
                switch byte {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
                default: "_./:=@,+-%".utf8.contains(byte)
                }
            }
        if safe { return text }
        if text.unicodeScalars.contains(where: \.isControlOrLineSeparator) { return ansiCQuoted(text) }
        // Most quoted values (names with spaces, JSON) hold no quote: skip the search then.
        return "'" + (text.utf8.contains(UInt8(ascii: "'")) ? text.replacing("'", with: "'\\''") : text) + "'"
    }

    /// A command line: each word quoted, separated by spaces.
    public static func command(_ words: [String]) -> String {
        words.map(word).joined(separator: " ")
    }

    /// Backslash escapes for `\\`, `'` and control characters (as their UTF-8 bytes),
    /// everything else as it is.
    private static func ansiCQuoted(_ text: String) -> String {
        var out = "$'"
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "'": out += "\\'"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            // Each UTF-8 byte as `\xHH`: bash decodes `\uXXXX` only in a UTF-8 locale and
            // leaves it as text in the C locale, so bytes are what every locale reads alike.
            case _ where scalar.isControlOrLineSeparator:
                for byte in String(scalar).utf8 {
                    let hex = String(byte, radix: 16)
                    out += "\\x" + (hex.count == 1 ? "0" : "") + hex
                }
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "'"
    }
}

extension Unicode.Scalar {
    /// C0 controls, DEL, C1 controls and the Unicode line and paragraph separators: what the
    /// schema refuses outside free text, what plain text shows as an escape, and what a shell
    /// word writes with `$'...'`, so a value can never start a line of its own.
    public var isControlOrLineSeparator: Bool {
        value < 0x20 || (0x7F...0x9F).contains(value) || value == 0x2028 || value == 0x2029
    }
}
