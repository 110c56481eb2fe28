/// The byte-level state machine behind ``XMLStreamParser``.
///
/// `advance(over:)` walks the unconsumed input once. A token cut off by the end of the input is left
/// unconsumed, and the scan position inside it is remembered, so a long token delivered in many small
/// chunks is still scanned in linear time.
struct XMLParserCore: Sendable {
    enum Phase: Sendable, Equatable {
        /// Before the root element; an XML declaration may come first.
        case prolog
        /// Inside the root element.
        case inStream
        /// The root element has been closed.
        case closed
    }

    struct Step {
        var consumed: Int
        var event: XMLStreamEvent?
    }

    /// An attribute as read from the tag, before its prefix is resolved.
    struct RawAttribute {
        var prefixEnd: Int?  // index of the colon, if the name has a prefix
        var nameStart: Int
        var nameEnd: Int
        var value: String
    }

    let limits: XMLParserLimits
    private(set) var phase: Phase = .prolog
    private(set) var failure: XMLStreamError?

    /// Whether the stream may still begin with a UTF-8 byte order mark.
    private var atStreamStart = true
    /// Whether an XML declaration may still come: only as the first token of the stream.
    private var declarationAllowed = true
    /// How many `]` end the text consumed so far (up to 2), to catch a `]]>` split across chunks.
    private var trailingBrackets = 0
    /// Elements of the current top-level element under construction; index 0 is the stanza itself. Their
    /// children wait in `pendingNodes` (from `childStarts[i]` on) until they close, so that each element gets
    /// one array of exactly the right size instead of one that regrows as children arrive.
    private var stack: [Element] = []
    private var pendingNodes: [Node] = []
    private var childStarts: [Int] = []
    /// Qualified names of all open elements, root included, concatenated; used to match end tags.
    private var openNames: [UInt8] = []
    private var openNameStarts: [Int] = []
    /// Namespace bindings in scope.
    private var scopes = NamespaceScopes()
    /// Character data of the current text run that could not be turned into a string yet.
    private var pendingText: [UInt8] = []
    /// Bytes consumed by the current top-level element so far.
    private var stanzaBytes = 0
    /// Resume point inside an unfinished token, relative to its first byte, and the open quote there.
    private var resumeOffset = 0
    private var resumeQuote: UInt8 = 0
    private var rawAttributes: [RawAttribute] = []
    /// The event the token just consumed completed, if any; moved out by the driving loop (returning it
    /// inside the token outcome cost a copy and a destroy of the whole tree per stanza).
    private var completed: XMLStreamEvent?
    private var interned = NamespaceInterner()

    init(limits: XMLParserLimits) {
        self.limits = limits
    }

    private var depth: Int { openNameStarts.count }

    // MARK: - Driving loop

    mutating func advance(over bytes: UnsafeRawBufferPointer) -> Step {
        var position = 0
        if pendingClose {
            pendingClose = false
            closeInnermost()
            return Self.finish(consumed: 0, event: completed.take())
        }
        if atStreamStart {
            let bom: [UInt8] = [0xEF, 0xBB, 0xBF]
            let available = min(bytes.count, 3)
            guard bytes.prefix(available).elementsEqual(bom.prefix(available)) else {
                atStreamStart = false
                return advance(over: bytes)
            }
            if available < 3 { return Step(consumed: 0, event: nil) }
            atStreamStart = false
            position = 3
        }
        do {
            while position < bytes.count {
                let tokenStart = position
                let outcome: TokenOutcome
                if bytes[position] == UInt8(ascii: "<") {
                    outcome = try markup(bytes, at: position)
                } else {
                    outcome = try characterData(bytes, at: position)
                }
                switch outcome {
                case .needMore(let keptFrom):
                    position = keptFrom
                    try checkUnfinishedToken(length: bytes.count - position)
                    return Self.finish(consumed: position, event: nil)
                case .consumed(let end):
                    position = end
                    declarationAllowed = false
                    resumeOffset = 0
                    resumeQuote = 0
                    if !stack.isEmpty || completed != nil {
                        stanzaBytes += end - tokenStart
                        if stanzaBytes > limits.maxStanzaBytes {
                            throw XMLStreamError.policy("stanza larger than \(limits.maxStanzaBytes) bytes")
                        }
                    }
                    if let event = completed.take() {
                        stanzaBytes = 0
                        return Step(consumed: position, event: consume event)
                    }
                }
            }
            return Self.finish(consumed: position, event: nil)
        } catch {
            failure = error as? XMLStreamError ?? .notWellFormed("\(error)")
            return Step(consumed: position, event: nil)
        }
    }

    private static func finish(consumed: Int, event: XMLStreamEvent?) -> Step {
        Step(consumed: consumed, event: event)
    }

    private func checkUnfinishedToken(length: Int) throws(XMLStreamError) {
        if stanzaBytes + length > limits.maxStanzaBytes {
            throw .policy("stanza larger than \(limits.maxStanzaBytes) bytes")
        }
    }

    enum TokenOutcome {
        /// The token is incomplete; keep the bytes from this index on.
        case needMore(keptFrom: Int)
        /// The token ended just before `end`; an event it completed is in `completed`.
        case consumed(end: Int)
    }

    // MARK: - Markup

    private mutating func markup(_ bytes: UnsafeRawBufferPointer, at start: Int) throws(XMLStreamError) -> TokenOutcome {
        // The text run ends here whatever follows, so it is checked now: waiting for the tag to complete would
        // make the reported error depend on how the input was chunked.
        try flushText()
        guard start + 1 < bytes.count else { return .needMore(keptFrom: start) }
        if phase == .closed { throw .notWellFormed("content after the end of the stream") }
        switch bytes[start + 1] {
        case UInt8(ascii: "/"):
            trailingBrackets = 0
            guard let end = findTagEnd(bytes, from: start) else { return .needMore(keptFrom: start) }
            try endTag(bytes, start: start + 2, end: end)
            return .consumed(end: end + 1)
        case UInt8(ascii: "?"):
            return try processingInstruction(bytes, at: start)
        case UInt8(ascii: "!"):
            return try declarationOrCDATA(bytes, at: start)
        default:
            trailingBrackets = 0
            guard let end = findTagEnd(bytes, from: start) else { return .needMore(keptFrom: start) }
            try startTag(bytes, start: start + 1, end: end)
            return .consumed(end: end + 1)
        }
    }

    /// Finds the `>` that ends the tag starting at `start`, honouring quoted attribute values, resuming a
    /// previous partial scan. Returns `nil` when the input ends first.
    private mutating func findTagEnd(_ bytes: UnsafeRawBufferPointer, from start: Int) -> Int? {
        var index = start + max(resumeOffset, 1)
        var quote = resumeQuote
        while index < bytes.count {
            let byte = bytes[index]
            if quote != 0 {
                if byte == quote { quote = 0 }
            } else if byte == UInt8(ascii: ">") {
                return index
            } else if byte == UInt8(ascii: "'") || byte == UInt8(ascii: "\"") {
                quote = byte
            }
            index += 1
        }
        resumeOffset = index - start
        resumeQuote = quote
        return nil
    }

    private mutating func processingInstruction(_ bytes: UnsafeRawBufferPointer, at start: Int) throws(XMLStreamError) -> TokenOutcome {
        // Only the XML declaration is allowed, and only as the very first thing in the stream.
        guard phase == .prolog, declarationAllowed else {
            throw .restricted("processing instructions are not allowed")
        }
        let prefix: [UInt8] = Array("<?xml".utf8)
        for (offset, expected) in prefix.enumerated() {
            guard start + offset < bytes.count else { return .needMore(keptFrom: start) }
            guard bytes[start + offset] == expected else { throw .restricted("processing instructions are not allowed") }
        }
        guard let close = Self.find(bytes, "?>", from: max(start + 5, start + resumeOffset - 1)) else {
            resumeOffset = bytes.count - start
            return .needMore(keptFrom: start)
        }
        let declaration = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<close]), as: UTF8.self)
        try Self.checkXMLDeclaration(declaration)
        return .consumed(end: close + 2)
    }

    /// Checks `<?xml version=... encoding=...?>`: a version must be present, and an encoding, if declared,
    /// must be UTF-8 (RFC 6120 §11.6).
    private static func checkXMLDeclaration(_ declaration: String) throws(XMLStreamError) {
        let body = declaration.dropFirst(5)
        guard let first = body.first, first == " " || first == "\t" || first == "\n" || first == "\r" else {
            throw .restricted("processing instructions are not allowed")
        }
        guard Self.pseudoAttribute("version", in: body) != nil else { throw .notWellFormed("XML declaration without version") }
        if let encoding = Self.pseudoAttribute("encoding", in: body), encoding.lowercased() != "utf-8" {
            throw XMLStreamError(.unsupportedEncoding, "encoding \(encoding) is not UTF-8")
        }
    }

    /// The value of `name='value'` inside an XML declaration.
    private static func pseudoAttribute(_ name: String, in declaration: Substring) -> Substring? {
        var rest = declaration[...]
        while let start = rest.firstIndex(of: name.first!) {
            rest = rest[start...]
            if rest.hasPrefix(name) {
                let afterName = rest.dropFirst(name.count).drop { $0 == " " || $0 == "=" }
                if let quote = afterName.first, quote == "'" || quote == "\"" {
                    return afterName.dropFirst().prefix { $0 != quote }
                }
            }
            rest = rest.dropFirst()
        }
        return nil
    }

    private mutating func declarationOrCDATA(_ bytes: UnsafeRawBufferPointer, at start: Int) throws(XMLStreamError) -> TokenOutcome {
        guard start + 2 < bytes.count else { return .needMore(keptFrom: start) }
        switch bytes[start + 2] {
        case UInt8(ascii: "-"): throw .restricted("comments are not allowed")
        case UInt8(ascii: "["): break
        default: throw .restricted("document type declarations are not allowed")
        }
        let opener: [UInt8] = Array("<![CDATA[".utf8)
        for (offset, expected) in opener.enumerated() {
            guard start + offset < bytes.count else { return .needMore(keptFrom: start) }
            guard bytes[start + offset] == expected else { throw .notWellFormed("malformed CDATA section") }
        }
        guard !stack.isEmpty else { throw .notWellFormed("CDATA section outside an element") }
        let contentStart = start + opener.count
        let searchFrom = max(contentStart, start + resumeOffset - 2)
        guard let close = Self.find(bytes, "]]>", from: searchFrom) else {
            resumeOffset = bytes.count - start
            return .needMore(keptFrom: start)
        }
        let content = UnsafeRawBufferPointer(rebasing: bytes[contentStart..<close])
        for byte in content where byte < 0x20 && byte != 0x09 && byte != 0x0A && byte != 0x0D {
            throw .notWellFormed("control character in text")
        }
        try appendPendingText(content)
        return .consumed(end: close + 3)
    }

    private static func find(_ bytes: UnsafeRawBufferPointer, _ needle: StaticString, from: Int) -> Int? {
        let count = needle.utf8CodeUnitCount
        let pattern = needle.utf8Start
        var index = from
        while index + count <= bytes.count {
            var matched = true
            for offset in 0..<count where bytes[index + offset] != pattern[offset] {
                matched = false
                break
            }
            if matched { return index }
            index += 1
        }
        return nil
    }

    // MARK: - Tags

    /// Opens an element; when it is the root, or is self-closing and completes a stanza, sets `completed`.
    private mutating func startTag(_ bytes: UnsafeRawBufferPointer, start: Int, end: Int) throws(XMLStreamError) {
        var selfClosing = false
        var tagEnd = end
        if bytes[end - 1] == UInt8(ascii: "/") {
            selfClosing = true
            tagEnd = end - 1
        }
        let nameEnd = try Self.scanName(bytes, from: start, limit: tagEnd, maxNameBytes: limits.maxNameBytes)
        guard nameEnd > start else { throw .notWellFormed("missing element name") }
        if phase == .prolog {
            phase = .inStream
        }
        guard depth < limits.maxDepth else { throw .policy("elements nested deeper than \(limits.maxDepth)") }

        // Attributes.
        rawAttributes.removeAll(keepingCapacity: true)
        scopes.push()
        var index = nameEnd
        while true {
            let afterSpace = Self.skipSpace(bytes, from: index, limit: tagEnd)
            if afterSpace == tagEnd { break }
            guard afterSpace > index else { throw .notWellFormed("attributes must be separated by white space") }
            index = try attribute(bytes, from: afterSpace, limit: tagEnd)
        }

        // Namespace resolution.
        let colon = Self.firstColon(bytes, from: start, to: nameEnd)
        let namespace = try Self.resolve(bytes, prefixStart: start, colon: colon, isElement: true, in: scopes)
        let localStart = colon.map { $0 + 1 } ?? start
        let name = try Self.makeName(bytes, from: localStart, to: nameEnd)
        var attributes: [Attribute] = []
        if !rawAttributes.isEmpty {
            attributes.reserveCapacity(rawAttributes.count)
            for index in rawAttributes.indices {
                let prefixEnd = rawAttributes[index].prefixEnd
                let nameStart = rawAttributes[index].nameStart
                let attributeNamespace = prefixEnd == nil
                    ? "" : try Self.resolve(bytes, prefixStart: nameStart, colon: prefixEnd, isElement: false, in: scopes)
                let localName = try Self.makeName(bytes, from: prefixEnd.map { $0 + 1 } ?? nameStart, to: rawAttributes[index].nameEnd)
                for existing in attributes where existing.name == localName && existing.namespace == attributeNamespace {
                    throw .notWellFormed("duplicate attribute \(localName)")
                }
                // Move the value out rather than copy it: one reference-count round trip less per attribute.
                var value = ""
                swap(&value, &rawAttributes[index].value)
                attributes.append(Attribute(name: localName, namespace: attributeNamespace, value: value))
            }
        }
        let element = Element(name: name, namespace: namespace, attributes: attributes, children: [])

        if !rootOpened {
            rootOpened = true
            openNameStarts.append(openNames.count)
            openNames.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[start..<nameEnd]))
            let content = scopes.defaultNamespace()
            if selfClosing {
                // `<stream:stream/>` opens and closes at once; report the opening now and the close next.
                pendingClose = true
            }
            completed = .streamOpened(element, contentNamespace: content)
            return
        }
        openNameStarts.append(openNames.count)
        openNames.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[start..<nameEnd]))
        stack.append(element)
        childStarts.append(pendingNodes.count)
        if selfClosing { closeInnermost() }
    }

    private var rootOpened = false
    /// Set when the root element was self-closing: the close is reported by the next call.
    private var pendingClose = false

    private mutating func endTag(_ bytes: UnsafeRawBufferPointer, start: Int, end: Int) throws(XMLStreamError) {
        let nameEnd = try Self.scanName(bytes, from: start, limit: end, maxNameBytes: limits.maxNameBytes)
        guard Self.skipSpace(bytes, from: nameEnd, limit: end) == end else { throw .notWellFormed("malformed end tag") }
        guard let openStart = openNameStarts.last else { throw .notWellFormed("end tag without start tag") }
        let name = UnsafeRawBufferPointer(rebasing: bytes[start..<nameEnd])
        guard openNames.count - openStart == name.count, openNames[openStart...].elementsEqual(name) else {
            throw .notWellFormed("mismatched end tag")
        }
        closeInnermost()
    }

    /// Closes the innermost open element; sets `completed` when that finishes a stanza or the stream.
    private mutating func closeInnermost() {
        let openStart = openNameStarts.removeLast()
        openNames.removeLast(openNames.count - openStart)
        scopes.pop()
        guard var finished = stack.popLast() else {
            phase = .closed
            completed = .streamClosed
            return
        }
        let childStart = childStarts.removeLast()
        let childCount = pendingNodes.count - childStart
        if childCount > 0 {
            // Move the children out (swapping in an empty text, which needs no reference counting) rather than
            // copying them and destroying the originals: this is the parser's hottest path.
            var children: [Node] = []
            children.reserveCapacity(childCount)
            for index in childStart..<pendingNodes.count {
                var moved = Node.text("")
                swap(&moved, &pendingNodes[index])
                children.append(moved)
            }
            pendingNodes.removeLast(childCount)
            finished.children = children
        }
        if stack.isEmpty {
            completed = .element(finished)
        } else {
            pendingNodes.append(.element(finished))
        }
    }

    /// Reads one `name = "value"` pair starting at `start`; returns the index after the closing quote.
    private mutating func attribute(_ bytes: UnsafeRawBufferPointer, from start: Int, limit: Int) throws(XMLStreamError) -> Int {
        let nameEnd = try Self.scanName(bytes, from: start, limit: limit, maxNameBytes: limits.maxNameBytes)
        guard nameEnd > start else { throw .notWellFormed("malformed attribute") }
        var index = Self.skipSpace(bytes, from: nameEnd, limit: limit)
        guard index < limit, bytes[index] == UInt8(ascii: "=") else { throw .notWellFormed("attribute without value") }
        index = Self.skipSpace(bytes, from: index + 1, limit: limit)
        guard index < limit, bytes[index] == UInt8(ascii: "'") || bytes[index] == UInt8(ascii: "\"") else {
            throw .notWellFormed("attribute value must be quoted")
        }
        let quote = bytes[index]
        let valueStart = index + 1
        var valueEnd = valueStart
        while valueEnd < limit && bytes[valueEnd] != quote { valueEnd += 1 }
        guard valueEnd < limit else { throw .notWellFormed("unterminated attribute value") }
        guard rawAttributes.count + scopes.declaredInInnermostScope < limits.maxAttributes else {
            throw .policy("more than \(limits.maxAttributes) attributes")
        }
        let rawValue = UnsafeRawBufferPointer(rebasing: bytes[valueStart..<valueEnd])
        let colon = Self.firstColon(bytes, from: start, to: nameEnd)
        if Self.isXMLNS(bytes, start: start, end: colon ?? nameEnd) {
            let uri = Self.isPlain(rawValue) ? try interned.string(rawValue) : try Self.attributeValue(rawValue, maxText: limits.maxTextBytes)
            try scopes.declare(prefix: colon.map { UnsafeRawBufferPointer(rebasing: bytes[($0 + 1)..<nameEnd]) }, uri: uri)
        } else {
            let value = try Self.attributeValue(rawValue, maxText: limits.maxTextBytes)
            rawAttributes.append(RawAttribute(prefixEnd: colon, nameStart: start, nameEnd: nameEnd, value: value))
        }
        return valueEnd + 1
    }

    /// Whether an attribute value can be used as written: no references, no characters to normalize.
    private static func isPlain(_ raw: UnsafeRawBufferPointer) -> Bool {
        !raw.contains { $0 == UInt8(ascii: "&") || $0 == UInt8(ascii: "<") || $0 < 0x20 }
    }

    private static func isXMLNS(_ bytes: UnsafeRawBufferPointer, start: Int, end: Int) -> Bool {
        end - start == 5 && bytes[start] == UInt8(ascii: "x") && bytes[start + 1] == UInt8(ascii: "m")
            && bytes[start + 2] == UInt8(ascii: "l") && bytes[start + 3] == UInt8(ascii: "n") && bytes[start + 4] == UInt8(ascii: "s")
    }



    /// The namespace of a name: its prefix's binding, or the default namespace for unprefixed element names.
    private static func resolve(_ bytes: UnsafeRawBufferPointer, prefixStart: Int, colon: Int?, isElement: Bool,
                                in scopes: borrowing NamespaceScopes) throws(XMLStreamError) -> String {
        guard let colon else { return isElement ? scopes.defaultNamespace() : "" }
        return try scopes.uri(for: UnsafeRawBufferPointer(rebasing: bytes[prefixStart..<colon]))
    }

    // MARK: - Names

    /// Scans an XML name from `start`; returns the index after it. Validates the ASCII name characters and
    /// defers multi-byte characters to UTF-8 validation.
    private static func scanName(_ bytes: UnsafeRawBufferPointer, from start: Int, limit: Int, maxNameBytes: Int) throws(XMLStreamError) -> Int {
        var index = start
        while index < limit {
            let byte = bytes[index]
            if byte >= 0x80 || Self.isNameByte(byte) {
                index += 1
            } else if byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D || byte == UInt8(ascii: "=") || byte == UInt8(ascii: "/") {
                break
            } else {
                throw .notWellFormed("invalid character in name")
            }
        }
        if index > start { try Self.checkNameStart(bytes[start]) }
        if index - start > maxNameBytes { throw .policy("name longer than \(maxNameBytes) bytes") }
        return index
    }

    static func checkNameStart(_ first: UInt8) throws(XMLStreamError) {
        if first == UInt8(ascii: "-") || first == UInt8(ascii: ".") || (first >= 0x30 && first <= 0x39) {
            throw .notWellFormed("invalid first character of a name")
        }
    }

    @inline(__always)
    private static func isNameByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: ":"):
            return true
        default:
            return false
        }
    }

    /// The index of the prefix separator in a qualified name; a name with more than one colon is rejected.
    private static func firstColon(_ bytes: UnsafeRawBufferPointer, from start: Int, to end: Int) -> Int? {
        var index = start
        while index < end {
            if bytes[index] == UInt8(ascii: ":") { return index }
            index += 1
        }
        return nil
    }

    private static func makeName(_ bytes: UnsafeRawBufferPointer, from start: Int, to end: Int) throws(XMLStreamError) -> String {
        guard end > start else { throw .notWellFormed("empty local name") }
        let slice = UnsafeRawBufferPointer(rebasing: bytes[start..<end])
        if slice.contains(UInt8(ascii: ":")) { throw .notWellFormed("more than one colon in a name") }
        // The local part of a prefixed name must itself be a valid name start (Namespaces in XML, NCName).
        try Self.checkNameStart(slice[slice.startIndex])
        return try XMLText.string(slice)
    }

    private static func skipSpace(_ bytes: UnsafeRawBufferPointer, from start: Int, limit: Int) -> Int {
        var index = start
        while index < limit {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return index
            }
        }
        return index
    }

    // MARK: - Character data

    private mutating func characterData(_ bytes: UnsafeRawBufferPointer, at start: Int) throws(XMLStreamError) -> TokenOutcome {
        var index = start
        var runStart = start
        let outsideElements = stack.isEmpty
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "<") { break }
            if outsideElements && !(byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D) {
                // Checked byte by byte so that chunking cannot change which error is reported.
                if phase == .inStream { throw XMLStreamError(.badFormat, "text between stanzas") }
                throw .notWellFormed("text outside the root element")
            }
            if byte == UInt8(ascii: "&") {
                try appendTextRun(bytes, from: runStart, to: index)
                guard let (replacement, end) = try Self.entity(bytes, at: index) else {
                    return .needMore(keptFrom: index)
                }
                try Self.checkTextLength(pendingText.count + 4, limit: limits.maxTextBytes)
                XMLText.appendUTF8(replacement, to: &pendingText)
                index = end
                runStart = end
                trailingBrackets = 0
                continue
            }
            if byte < 0x20 && byte != 0x09 && byte != 0x0A && byte != 0x0D {
                throw .notWellFormed("control character in text")
            }
            if byte == UInt8(ascii: "]") {
                trailingBrackets = min(trailingBrackets + 1, 2)
            } else {
                if byte == UInt8(ascii: ">") && trailingBrackets == 2 { throw .notWellFormed("']]>' in text") }
                trailingBrackets = 0
            }
            index += 1
        }
        let complete = index < bytes.count
        if complete && pendingText.isEmpty && !stack.isEmpty && index > runStart {
            // Fast path: the whole run is in the buffer and needs no entity replacement.
            let run = UnsafeRawBufferPointer(rebasing: bytes[runStart..<index])
            try Self.checkTextLength(run.count, limit: limits.maxTextBytes)
            appendChildText(try XMLText.string(run))
        } else {
            try appendTextRun(bytes, from: runStart, to: index)
        }
        return .consumed(end: index)
    }

    private mutating func appendTextRun(_ bytes: UnsafeRawBufferPointer, from start: Int, to end: Int) throws(XMLStreamError) {
        guard end > start else { return }
        try appendPendingText(UnsafeRawBufferPointer(rebasing: bytes[start..<end]))
    }

    /// Keeps text for the current element; outside a stanza only white space is allowed and it is dropped.
    private mutating func appendPendingText(_ text: some Collection<UInt8>) throws(XMLStreamError) {
        if stack.isEmpty {
            for byte in text where !(byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D) {
                if phase == .inStream { throw XMLStreamError(.badFormat, "text between stanzas") }
                throw .notWellFormed("text outside the root element")
            }
            return
        }
        try Self.checkTextLength(pendingText.count + text.count, limit: limits.maxTextBytes)
        pendingText.append(contentsOf: text)
    }

    private static func checkTextLength(_ count: Int, limit: Int) throws(XMLStreamError) {
        if count > limit { throw .policy("text longer than \(limit) bytes") }
    }

    /// Moves buffered text into the current element as a text child, merging with a preceding text child.
    private mutating func flushText() throws(XMLStreamError) {
        guard !pendingText.isEmpty else { return }
        let text = try XMLText.string(pendingText)
        pendingText.removeAll(keepingCapacity: pendingText.capacity <= 4096)
        appendChildText(text)
    }

    /// Adds a text child to the innermost open element, merging it with a text child just before it.
    private mutating func appendChildText(_ text: String) {
        if pendingNodes.count > childStarts[childStarts.count - 1], case .text(let previous) = pendingNodes[pendingNodes.count - 1] {
            pendingNodes[pendingNodes.count - 1] = .text(previous + text)
        } else {
            pendingNodes.append(.text(text))
        }
    }

    /// Decodes the entity or character reference at `start`. Returns `nil` when its end is not in the input yet.
    private static func entity(_ bytes: UnsafeRawBufferPointer, at start: Int) throws(XMLStreamError) -> (Unicode.Scalar, Int)? {
        let maximumLength = 12  // "&#x0010FFFF;"
        var end = start + 1
        while end < bytes.count && bytes[end] != UInt8(ascii: ";") {
            end += 1
            if end - start > maximumLength { throw .notWellFormed("malformed entity reference") }
        }
        guard end < bytes.count else { return nil }
        let reference = UnsafeRawBufferPointer(rebasing: bytes[(start + 1)..<end])
        return (try XMLText.decodeReference(reference), end + 1)
    }

    /// Decodes an attribute value: entity replacement and attribute-value normalization (XML 1.0 §3.3.3).
    private static func attributeValue(_ raw: UnsafeRawBufferPointer, maxText: Int) throws(XMLStreamError) -> String {
        try Self.checkTextLength(raw.count, limit: maxText)
        var needsWork = false
        for byte in raw {
            if byte == UInt8(ascii: "&") || byte == 0x09 || byte == 0x0A || byte == 0x0D { needsWork = true }
            else if byte == UInt8(ascii: "<") { throw .notWellFormed("'<' in attribute value") }
            else if byte < 0x20 { throw .notWellFormed("control character in attribute value") }
        }
        if !needsWork { return try XMLText.string(raw) }
        var decoded: [UInt8] = []
        decoded.reserveCapacity(raw.count)
        var index = 0
        while index < raw.count {
            let byte = raw[index]
            if byte == UInt8(ascii: "&") {
                var end = index + 1
                while end < raw.count && raw[end] != UInt8(ascii: ";") { end += 1 }
                guard end < raw.count, end - index <= 12 else { throw .notWellFormed("malformed entity reference") }
                XMLText.appendUTF8(try XMLText.decodeReference(UnsafeRawBufferPointer(rebasing: raw[(index + 1)..<end])), to: &decoded)
                index = end + 1
            } else {
                decoded.append(byte == 0x09 || byte == 0x0A || byte == 0x0D ? 0x20 : byte)
                index += 1
            }
        }
        return try XMLText.string(decoded)
    }
}
