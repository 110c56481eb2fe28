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

    /// A namespace prefix bound to a URI; the empty prefix stands for the default namespace.
    struct Binding: Sendable {
        var prefix: [UInt8]
        var uri: String
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
    /// Elements of the current top-level element under construction; index 0 is the stanza itself.
    private var stack: [Element] = []
    /// Qualified names of all open elements, root included, concatenated; used to match end tags.
    private var openNames: [UInt8] = []
    private var openNameStarts: [Int] = []
    /// Namespace bindings in scope, innermost last, and where each open element's bindings begin.
    private var bindings: [Binding] = [Binding(prefix: Array("xml".utf8), uri: XMLNamespace.xml)]
    private var scopeStarts: [Int] = []
    /// Character data of the current text run that could not be turned into a string yet.
    private var pendingText: [UInt8] = []
    /// Bytes consumed by the current top-level element so far.
    private var stanzaBytes = 0
    /// Resume point inside an unfinished token, relative to its first byte, and the open quote there.
    private var resumeOffset = 0
    private var resumeQuote: UInt8 = 0
    private var rawAttributes: [RawAttribute] = []
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
            return finish(consumed: 0, event: closeInnermost())
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
                    return finish(consumed: position, event: nil)
                case .consumed(let end, let event):
                    position = end
                    declarationAllowed = false
                    resumeOffset = 0
                    resumeQuote = 0
                    if !stack.isEmpty || event != nil {
                        stanzaBytes += end - tokenStart
                        if stanzaBytes > limits.maxStanzaBytes {
                            throw XMLStreamError.policy("stanza larger than \(limits.maxStanzaBytes) bytes")
                        }
                    }
                    if let event {
                        stanzaBytes = 0
                        return finish(consumed: position, event: event)
                    }
                }
            }
            return finish(consumed: position, event: nil)
        } catch {
            failure = error as? XMLStreamError ?? .notWellFormed("\(error)")
            return Step(consumed: position, event: nil)
        }
    }

    private func finish(consumed: Int, event: XMLStreamEvent?) -> Step {
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
        /// The token ended just before `end`; it may have completed an event.
        case consumed(end: Int, event: XMLStreamEvent?)
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
            return .consumed(end: end + 1, event: try endTag(bytes, start: start + 2, end: end))
        case UInt8(ascii: "?"):
            return try processingInstruction(bytes, at: start)
        case UInt8(ascii: "!"):
            return try declarationOrCDATA(bytes, at: start)
        default:
            trailingBrackets = 0
            guard let end = findTagEnd(bytes, from: start) else { return .needMore(keptFrom: start) }
            return .consumed(end: end + 1, event: try startTag(bytes, start: start + 1, end: end))
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
        guard let close = find(bytes, "?>", from: max(start + 5, start + resumeOffset - 1)) else {
            resumeOffset = bytes.count - start
            return .needMore(keptFrom: start)
        }
        let declaration = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<close]), as: UTF8.self)
        try checkXMLDeclaration(declaration)
        return .consumed(end: close + 2, event: nil)
    }

    /// Checks `<?xml version=... encoding=...?>`: a version must be present, and an encoding, if declared,
    /// must be UTF-8 (RFC 6120 §11.6).
    private func checkXMLDeclaration(_ declaration: String) throws(XMLStreamError) {
        let body = declaration.dropFirst(5)
        guard let first = body.first, first == " " || first == "\t" || first == "\n" || first == "\r" else {
            throw .restricted("processing instructions are not allowed")
        }
        guard pseudoAttribute("version", in: body) != nil else { throw .notWellFormed("XML declaration without version") }
        if let encoding = pseudoAttribute("encoding", in: body), encoding.lowercased() != "utf-8" {
            throw XMLStreamError(.unsupportedEncoding, "encoding \(encoding) is not UTF-8")
        }
    }

    /// The value of `name='value'` inside an XML declaration.
    private func pseudoAttribute(_ name: String, in declaration: Substring) -> Substring? {
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
        guard let close = find(bytes, "]]>", from: searchFrom) else {
            resumeOffset = bytes.count - start
            return .needMore(keptFrom: start)
        }
        let content = UnsafeRawBufferPointer(rebasing: bytes[contentStart..<close])
        for byte in content where byte < 0x20 && byte != 0x09 && byte != 0x0A && byte != 0x0D {
            throw .notWellFormed("control character in text")
        }
        try appendPendingText(content)
        return .consumed(end: close + 3, event: nil)
    }

    private func find(_ bytes: UnsafeRawBufferPointer, _ needle: StaticString, from: Int) -> Int? {
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

    private mutating func startTag(_ bytes: UnsafeRawBufferPointer, start: Int, end: Int) throws(XMLStreamError) -> XMLStreamEvent? {
        var selfClosing = false
        var tagEnd = end
        if bytes[end - 1] == UInt8(ascii: "/") {
            selfClosing = true
            tagEnd = end - 1
        }
        let nameEnd = try scanName(bytes, from: start, limit: tagEnd)
        guard nameEnd > start else { throw .notWellFormed("missing element name") }
        if phase == .prolog {
            phase = .inStream
        }
        guard depth < limits.maxDepth else { throw .policy("elements nested deeper than \(limits.maxDepth)") }

        // Attributes.
        rawAttributes.removeAll(keepingCapacity: true)
        scopeStarts.append(bindings.count)
        var index = nameEnd
        while true {
            let afterSpace = skipSpace(bytes, from: index, limit: tagEnd)
            if afterSpace == tagEnd { break }
            guard afterSpace > index else { throw .notWellFormed("attributes must be separated by white space") }
            index = try attribute(bytes, from: afterSpace, limit: tagEnd)
        }

        // Namespace resolution.
        let colon = firstColon(bytes, from: start, to: nameEnd)
        let namespace = try resolve(bytes, prefixStart: start, colon: colon, isElement: true)
        let localStart = colon.map { $0 + 1 } ?? start
        let name = try makeName(bytes, from: localStart, to: nameEnd)
        var attributes: [Attribute] = []
        if !rawAttributes.isEmpty {
            attributes.reserveCapacity(rawAttributes.count)
            for raw in rawAttributes {
                let attributeNamespace = raw.prefixEnd == nil
                    ? "" : try resolve(bytes, prefixStart: raw.nameStart, colon: raw.prefixEnd, isElement: false)
                let localName = try makeName(bytes, from: raw.prefixEnd.map { $0 + 1 } ?? raw.nameStart, to: raw.nameEnd)
                for existing in attributes where existing.name == localName && existing.namespace == attributeNamespace {
                    throw .notWellFormed("duplicate attribute \(localName)")
                }
                attributes.append(Attribute(name: localName, namespace: attributeNamespace, value: raw.value))
            }
        }
        let element = Element(name: name, namespace: namespace, attributes: attributes, children: [])

        if !rootOpened {
            rootOpened = true
            openNameStarts.append(openNames.count)
            openNames.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[start..<nameEnd]))
            let content = defaultNamespace()
            if selfClosing {
                // `<stream:stream/>` opens and closes at once; report the opening now and the close next.
                pendingClose = true
            }
            return .streamOpened(element, contentNamespace: content)
        }
        openNameStarts.append(openNames.count)
        openNames.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[start..<nameEnd]))
        stack.append(element)
        if selfClosing {
            return closeInnermost()
        }
        return nil
    }

    private var rootOpened = false
    /// Set when the root element was self-closing: the close is reported by the next call.
    private var pendingClose = false

    private mutating func endTag(_ bytes: UnsafeRawBufferPointer, start: Int, end: Int) throws(XMLStreamError) -> XMLStreamEvent? {
        let nameEnd = try scanName(bytes, from: start, limit: end)
        guard skipSpace(bytes, from: nameEnd, limit: end) == end else { throw .notWellFormed("malformed end tag") }
        guard let openStart = openNameStarts.last else { throw .notWellFormed("end tag without start tag") }
        let name = UnsafeRawBufferPointer(rebasing: bytes[start..<nameEnd])
        guard openNames.count - openStart == name.count, openNames[openStart...].elementsEqual(name) else {
            throw .notWellFormed("mismatched end tag")
        }
        return closeInnermost()
    }

    /// Closes the innermost open element; completes a stanza or the stream when it was the outermost.
    private mutating func closeInnermost() -> XMLStreamEvent? {
        let openStart = openNameStarts.removeLast()
        openNames.removeSubrange(openStart...)
        bindings.removeSubrange(scopeStarts.removeLast()...)
        guard let finished = stack.popLast() else {
            phase = .closed
            return .streamClosed
        }
        if stack.isEmpty { return .element(finished) }
        stack[stack.count - 1].children.append(.element(finished))
        return nil
    }

    /// Reads one `name = "value"` pair starting at `start`; returns the index after the closing quote.
    private mutating func attribute(_ bytes: UnsafeRawBufferPointer, from start: Int, limit: Int) throws(XMLStreamError) -> Int {
        let nameEnd = try scanName(bytes, from: start, limit: limit)
        guard nameEnd > start else { throw .notWellFormed("malformed attribute") }
        var index = skipSpace(bytes, from: nameEnd, limit: limit)
        guard index < limit, bytes[index] == UInt8(ascii: "=") else { throw .notWellFormed("attribute without value") }
        index = skipSpace(bytes, from: index + 1, limit: limit)
        guard index < limit, bytes[index] == UInt8(ascii: "'") || bytes[index] == UInt8(ascii: "\"") else {
            throw .notWellFormed("attribute value must be quoted")
        }
        let quote = bytes[index]
        let valueStart = index + 1
        var valueEnd = valueStart
        while valueEnd < limit && bytes[valueEnd] != quote { valueEnd += 1 }
        guard valueEnd < limit else { throw .notWellFormed("unterminated attribute value") }
        guard rawAttributes.count + (bindings.count - (scopeStarts.last ?? 0)) < limits.maxAttributes else {
            throw .policy("more than \(limits.maxAttributes) attributes")
        }
        let rawValue = UnsafeRawBufferPointer(rebasing: bytes[valueStart..<valueEnd])
        let colon = firstColon(bytes, from: start, to: nameEnd)
        if isXMLNS(bytes, start: start, end: colon ?? nameEnd) {
            let uri = isPlain(rawValue) ? try interned.string(rawValue) : try attributeValue(rawValue)
            try declareNamespace(bytes, prefixStart: colon.map { $0 + 1 }, prefixEnd: nameEnd, uri: uri)
        } else {
            let value = try attributeValue(rawValue)
            rawAttributes.append(RawAttribute(prefixEnd: colon, nameStart: start, nameEnd: nameEnd, value: value))
        }
        return valueEnd + 1
    }

    /// Whether an attribute value can be used as written: no references, no characters to normalize.
    private func isPlain(_ raw: UnsafeRawBufferPointer) -> Bool {
        !raw.contains { $0 == UInt8(ascii: "&") || $0 == UInt8(ascii: "<") || $0 < 0x20 }
    }

    private func isXMLNS(_ bytes: UnsafeRawBufferPointer, start: Int, end: Int) -> Bool {
        end - start == 5 && bytes[start] == UInt8(ascii: "x") && bytes[start + 1] == UInt8(ascii: "m")
            && bytes[start + 2] == UInt8(ascii: "l") && bytes[start + 3] == UInt8(ascii: "n") && bytes[start + 4] == UInt8(ascii: "s")
    }

    private mutating func declareNamespace(_ bytes: UnsafeRawBufferPointer, prefixStart: Int?, prefixEnd: Int, uri: String) throws(XMLStreamError) {
        guard let prefixStart else {
            bindings.append(Binding(prefix: [], uri: uri))
            return
        }
        let prefix = Array(UnsafeRawBufferPointer(rebasing: bytes[prefixStart..<prefixEnd]))
        guard let first = prefix.first else { throw .notWellFormed("empty namespace prefix") }
        try Self.checkNameStart(first)
        _ = try XMLText.string(prefix)
        guard !uri.isEmpty else { throw .notWellFormed("a prefix cannot be bound to the empty namespace") }
        if prefix.elementsEqual("xmlns".utf8) { throw .notWellFormed("the xmlns prefix cannot be declared") }
        if prefix.elementsEqual("xml".utf8) != (uri == XMLNamespace.xml) {
            throw .notWellFormed("the xml prefix and namespace are reserved")
        }
        bindings.append(Binding(prefix: prefix, uri: uri))
    }

    private func defaultNamespace() -> String {
        for binding in bindings.reversed() where binding.prefix.isEmpty { return binding.uri }
        return ""
    }

    /// The namespace of a name: its prefix's binding, or the default namespace for unprefixed element names.
    private func resolve(_ bytes: UnsafeRawBufferPointer, prefixStart: Int, colon: Int?, isElement: Bool) throws(XMLStreamError) -> String {
        guard let colon else { return isElement ? defaultNamespace() : "" }
        let prefix = UnsafeRawBufferPointer(rebasing: bytes[prefixStart..<colon])
        for binding in bindings.reversed() where !binding.prefix.isEmpty && binding.prefix.elementsEqual(prefix) {
            return binding.uri
        }
        throw .notWellFormed("unbound namespace prefix \(String(decoding: prefix, as: UTF8.self))")
    }

    // MARK: - Names

    /// Scans an XML name from `start`; returns the index after it. Validates the ASCII name characters and
    /// defers multi-byte characters to UTF-8 validation.
    private func scanName(_ bytes: UnsafeRawBufferPointer, from start: Int, limit: Int) throws(XMLStreamError) -> Int {
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
        if index - start > limits.maxNameBytes { throw .policy("name longer than \(limits.maxNameBytes) bytes") }
        return index
    }

    private static func checkNameStart(_ first: UInt8) throws(XMLStreamError) {
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
    private func firstColon(_ bytes: UnsafeRawBufferPointer, from start: Int, to end: Int) -> Int? {
        var index = start
        while index < end {
            if bytes[index] == UInt8(ascii: ":") { return index }
            index += 1
        }
        return nil
    }

    private func makeName(_ bytes: UnsafeRawBufferPointer, from start: Int, to end: Int) throws(XMLStreamError) -> String {
        guard end > start else { throw .notWellFormed("empty local name") }
        let slice = UnsafeRawBufferPointer(rebasing: bytes[start..<end])
        if slice.contains(UInt8(ascii: ":")) { throw .notWellFormed("more than one colon in a name") }
        // The local part of a prefixed name must itself be a valid name start (Namespaces in XML, NCName).
        try Self.checkNameStart(slice[slice.startIndex])
        return try XMLText.string(slice)
    }

    private func skipSpace(_ bytes: UnsafeRawBufferPointer, from start: Int, limit: Int) -> Int {
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
                guard let (replacement, end) = try entity(bytes, at: index) else {
                    return .needMore(keptFrom: index)
                }
                try appendPendingText(replacement)
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
            try checkTextLength(run.count)
            stack[stack.count - 1].children.append(.text(try XMLText.string(run)))
        } else {
            try appendTextRun(bytes, from: runStart, to: index)
        }
        return .consumed(end: index, event: nil)
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
        try checkTextLength(pendingText.count + text.count)
        pendingText.append(contentsOf: text)
    }

    private func checkTextLength(_ count: Int) throws(XMLStreamError) {
        if count > limits.maxTextBytes { throw .policy("text longer than \(limits.maxTextBytes) bytes") }
    }

    /// Moves buffered text into the current element as a text child, merging with a preceding text child.
    private mutating func flushText() throws(XMLStreamError) {
        guard !pendingText.isEmpty else { return }
        let text = try XMLText.string(pendingText)
        pendingText.removeAll(keepingCapacity: pendingText.capacity <= 4096)
        stack[stack.count - 1].append(text: text)
    }

    /// Decodes the entity or character reference at `start`. Returns `nil` when its end is not in the input yet.
    private func entity(_ bytes: UnsafeRawBufferPointer, at start: Int) throws(XMLStreamError) -> ([UInt8], Int)? {
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
    private func attributeValue(_ raw: UnsafeRawBufferPointer) throws(XMLStreamError) -> String {
        try checkTextLength(raw.count)
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
                decoded.append(contentsOf: try XMLText.decodeReference(UnsafeRawBufferPointer(rebasing: raw[(index + 1)..<end])))
                index = end + 1
            } else {
                decoded.append(byte == 0x09 || byte == 0x0A || byte == 0x0D ? 0x20 : byte)
                index += 1
            }
        }
        return try XMLText.string(decoded)
    }
}
