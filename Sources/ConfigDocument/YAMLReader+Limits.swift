import Yams

// Yams composes a tree in which an alias is its anchored node itself (a value shared, so cheap),
// but its composer hashes whole mapping keys, so a key that is an expanding alias costs as much
// as the expansion. The tree is therefore composed with every alias token `*name` read as the
// plain scalar "\u{E000}name" (or another private-use character the text does not hold): one
// character for one, so each line and column stays as libyaml counts it (in Unicode scalars,
// Yams' `Mark`). Aliases are then counted, and expanded, by this reader.

extension YAMLReader {
    /// How many nodes aliases may add to a document, counted as the aliases expand: a
    /// configuration reuses a few blocks, while nine levels of nine aliases ("billion laughs",
    /// a few hundred bytes) would make 10^9.
    public static let aliasNodeBudget = 100_000

    /// The alias tokens of a text: where each is, the anchor it names, and the character its
    /// `*` became in the text Yams composed.
    struct Aliases {
        /// A private-use character (YAML 1.1 printable, libyaml reader.c) the text does not hold.
        let marker: Unicode.Scalar
        var names: [Position: String]

        /// The alias that `node` stands for, if it is one.
        func name(of node: Node) -> (name: String, position: Position)? {
            guard case let .scalar(scalar) = node, scalar.string.unicodeScalars.first == marker,
                let position = Position(scalar.mark), let name = names[position]
            else { return nil }
            return (name, position)
        }

        /// `name` with the marker written as the `*` it stands for.
        func asWritten(_ name: String) -> String {
            name.unicodeScalars.first == marker ? "*" + name.dropFirst() : name
        }
    }

    /// A line and column as Yams' `Mark` gives them, 1-based.
    struct Position: Hashable {
        var line: Int
        var column: Int

        init(line: Int, column: Int) {
            self.line = line
            self.column = column
        }

        init?(_ mark: Mark?) {
            guard let mark else { return nil }
            self.init(line: mark.line, column: mark.column)
        }
    }

    /// The documents of a text, composed with no alias expanded, and the aliases by position.
    struct Composed {
        /// Kept alive while the nodes are read: Yams holds a node's anchor weakly, the parser
        /// strongly.
        let parser: Parser
        var roots: [Node]
        let aliases: Aliases
        let text: String
    }

    /// Composes `text` with its aliases unexpanded, then refuses, with the position of the alias
    /// or collection at fault, a document whose aliases would expand past `aliasNodeBudget`
    /// nodes or whose nesting, aliases expanded, is deeper than `DocumentReader.maximumDepth`.
    static func composeWithinLimits(_ text: String) throws(JSONParser.SyntaxError) -> Composed {
        let candidates = aliasCandidates(in: text)
        let present = Set(text.unicodeScalars)
        let privateUse = (0xE000...0xF8FF).lazy.compactMap(Unicode.Scalar.init).first { !present.contains($0) }
        // A text holding all 6,400 of the basic plane's private-use characters is 19 KB of them.
        let marker = privateUse ?? (0xF0000...0xFFFFD).lazy.compactMap(Unicode.Scalar.init).first { !present.contains($0) } ?? "\u{FFFFD}"
        var composed = try composeAll(text, aliases: Aliases(marker: marker, names: candidates))
        // A candidate is an alias only where a node starts; elsewhere (inside a quoted or block
        // scalar, a comment, mid plain scalar) the text must be read as written.
        var real = Aliases(marker: marker, names: [:])
        for root in composed.roots {
            collectMarkers(root, candidates: composed.aliases, into: &real.names)
        }
        if real.names.count != candidates.count {
            // The first tree is let go before the second is composed: two would cost twice.
            composed.roots = []
            composed = try composeAll(text, aliases: real)
        }
        for root in composed.roots {
            var walk = LimitWalk(aliases: composed.aliases)
            try walk.visit(root, depth: 0)
        }
        if composed.roots.count > 1 {
            // Yams' own refusal of a second document, as `compose(yaml:)` gives it.
            do {
                _ = try Parser(yaml: composed.text).singleRoot()
            } catch {
                throw syntaxError(error, in: text, aliases: composed.aliases)
            }
        }
        withExtendedLifetime(composed.parser) {}
        return composed
    }

    /// Composes every document of `original` with the tokens `aliases` names marked.
    private static func composeAll(_ original: String, aliases: Aliases) throws(JSONParser.SyntaxError) -> Composed {
        let text = replacing(aliases, in: original)
        do {
            let parser = try Parser(yaml: text)
            var roots: [Node] = []
            do {
                while let root = try parser.nextRoot() { roots.append(root) }
            } catch {
                // A later document that does not parse: Yams stops at the second document.
                guard !roots.isEmpty else { throw error }
            }
            return Composed(parser: parser, roots: roots, aliases: aliases, text: text)
        } catch {
            throw syntaxError(error, in: original, aliases: aliases)
        }
    }

    /// Where `*name` could be an alias token: a `*` at the start of the text or after a blank,
    /// a line break, `[`, `{` or `,`, followed by a name (libyaml's anchor characters:
    /// `[0-9A-Za-z_-]`, scanner.c `yaml_parser_scan_anchor`).
    static func aliasCandidates(in text: String) -> [Position: String] {
        var found: [Position: String] = [:]
        let scalars = Array(text.unicodeScalars)
        forEachPosition(of: scalars) { index, position in
            guard scalars[index] == "*", index + 1 < scalars.count, isAnchorCharacter(scalars[index + 1]),
                index == 0 || "\t\n\r [{,\u{85}\u{2028}\u{2029}".unicodeScalars.contains(scalars[index - 1])
            else { return }
            var end = index + 1
            while end < scalars.count, isAnchorCharacter(scalars[end]) { end += 1 }
            found[position] = String(String.UnicodeScalarView(scalars[(index + 1)..<end]))
        }
        return found
    }

    /// Calls `body` with each scalar's index and its line and column as libyaml counts them,
    /// whose line breaks are CR LF (as one), CR, LF, NEL, LS and PS.
    private static func forEachPosition(of scalars: [Unicode.Scalar], _ body: (Int, Position) -> Void) {
        var position = Position(line: 1, column: 1)
        for index in scalars.indices {
            body(index, position)
            switch scalars[index] {
            case "\r" where index + 1 < scalars.count && scalars[index + 1] == "\n":
                position.column += 1
            case "\r", "\n", "\u{85}", "\u{2028}", "\u{2029}":
                position = Position(line: position.line + 1, column: 1)
            default:
                position.column += 1
            }
        }
    }

    private static func isAnchorCharacter(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "0"..."9", "A"..."Z", "a"..."z", "_", "-": true
        default: false
        }
    }

    /// `text` with the `*` of each alias token made the marker.
    private static func replacing(_ aliases: Aliases, in text: String) -> String {
        guard !aliases.names.isEmpty else { return text }
        var scalars = Array(text.unicodeScalars)
        forEachPosition(of: scalars) { index, position in
            if aliases.names[position] != nil { scalars[index] = aliases.marker }
        }
        var result = String.UnicodeScalarView()
        result.append(contentsOf: scalars)
        return String(result)
    }

    /// The candidates that start a plain scalar of the composed tree: the alias tokens.
    private static func collectMarkers(_ node: Node, candidates: Aliases, into found: inout [Position: String]) {
        switch node {
        case .scalar:
            if let (name, position) = candidates.name(of: node) { found[position] = name }
        case let .sequence(sequence):
            for item in sequence { collectMarkers(item, candidates: candidates, into: &found) }
        case let .mapping(mapping):
            // By index: a mapping's iterator is a copy of all its pairs (Yams' `makeIterator`).
            for index in mapping.startIndex..<mapping.endIndex {
                collectMarkers(mapping[index].key, candidates: candidates, into: &found)
                collectMarkers(mapping[index].value, candidates: candidates, into: &found)
            }
        case .alias:
            break
        }
    }

    /// The sizes the walk keeps: the nodes and height of each anchored node, aliases inside it
    /// expanded. The walk visits nodes in the order libyaml reports them, so the first problem
    /// is the one nearest the start of the document.
    private struct LimitWalk {
        struct Size {
            var nodes = 1
            var height = 1
        }
        let aliases: Aliases
        var anchors: [String: Size] = [:]
        var expanded = 0

        init(aliases: Aliases) {
            self.aliases = aliases
        }

        /// The size `node` adds to the collection holding it, nil for an alias naming no anchor
        /// (reported while the model is made). `depth` is how many collections are open around it.
        @discardableResult
        mutating func visit(_ node: Node, depth: Int) throws(JSONParser.SyntaxError) -> Size? {
            let line = node.mark?.line ?? 0
            let column = node.mark?.column ?? 0
            if let (anchor, _) = aliases.name(of: node) {
                guard let size = anchors[anchor] else { return nil }
                expanded += size.nodes
                if expanded > YAMLReader.aliasNodeBudget {
                    return try fail(
                        line, column,
                        "alias *\(anchor) takes the nodes aliases add to the document to \(expanded), more than the \(YAMLReader.aliasNodeBudget) allowed (each alias is a copy of its anchor's \(size.nodes == 1 ? "node" : "\(size.nodes) nodes"))"
                    )
                }
                if depth + size.height > DocumentReader.maximumDepth {
                    return try fail(line, column, "alias *\(anchor) makes the nesting deeper than \(DocumentReader.maximumDepth) levels")
                }
                return size
            }
            var size = Size()
            var anchor: Anchor?
            switch node {
            case let .scalar(scalar):
                anchor = scalar.anchor
            case let .sequence(sequence):
                anchor = sequence.anchor
                if depth + 1 > DocumentReader.maximumDepth { return try nestingTooDeep(line, column) }
                for item in sequence { add(try visit(item, depth: depth + 1), to: &size) }
            case let .mapping(mapping):
                anchor = mapping.anchor
                if depth + 1 > DocumentReader.maximumDepth { return try nestingTooDeep(line, column) }
                for index in mapping.startIndex..<mapping.endIndex {
                    add(try visit(mapping[index].key, depth: depth + 1), to: &size)
                    add(try visit(mapping[index].value, depth: depth + 1), to: &size)
                }
            case .alias:
                break
            }
            if let anchor { anchors[anchor.rawValue] = size }
            return size
        }

        private func add(_ child: Size?, to size: inout Size) {
            guard let child else { return }
            size.nodes += child.nodes
            size.height = max(size.height, child.height + 1)
        }

        private func nestingTooDeep(_ line: Int, _ column: Int) throws(JSONParser.SyntaxError) -> Size? {
            try fail(line, column, "nesting deeper than \(DocumentReader.maximumDepth) levels")
        }

        private func fail(_ line: Int, _ column: Int, _ message: String) throws(JSONParser.SyntaxError) -> Size? {
            throw JSONParser.SyntaxError(line: line, column: column, message: message)
        }
    }
}
