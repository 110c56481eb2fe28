// Character data, entity and character references, attribute values.
extension XMLParserCore {
    // MARK: - Character data

    mutating func characterData(_ bytes: UnsafeRawBufferPointer, at start: Int) throws(XMLStreamError) -> TokenOutcome {
        var index = start
        var runStart = start
        let outsideElements = stack.isEmpty
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "<") { break }
            if outsideElements && !XMLText.isSpace(byte) {
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

    mutating func appendTextRun(_ bytes: UnsafeRawBufferPointer, from start: Int, to end: Int) throws(XMLStreamError) {
        guard end > start else { return }
        try appendPendingText(UnsafeRawBufferPointer(rebasing: bytes[start..<end]))
    }

    /// Keeps text for the current element. Outside a stanza it can only be white space (`characterData`
    /// rejects anything else byte by byte), which is dropped.
    mutating func appendPendingText(_ text: some Collection<UInt8>) throws(XMLStreamError) {
        guard !stack.isEmpty else { return }
        try Self.checkTextLength(pendingText.count + text.count, limit: limits.maxTextBytes)
        pendingText.append(contentsOf: text)
    }

    static func checkTextLength(_ count: Int, limit: Int) throws(XMLStreamError) {
        if count > limit { throw .policy("text longer than \(limit) bytes") }
    }

    /// Moves buffered text into the current element as a text child, merging with a preceding text child.
    mutating func flushText() throws(XMLStreamError) {
        guard !pendingText.isEmpty else { return }
        let text = try XMLText.string(pendingText)
        pendingText.removeAll(keepingCapacity: pendingText.capacity <= 4096)
        appendChildText(text)
    }

    /// Adds a text child to the innermost open element, merging it with a text child just before it.
    mutating func appendChildText(_ text: String) {
        if pendingNodes.count > childStarts[childStarts.count - 1], case .text(let previous) = pendingNodes[pendingNodes.count - 1] {
            pendingNodes[pendingNodes.count - 1] = .text(previous + text)
        } else {
            pendingNodes.append(.text(text))
        }
    }

    /// Decodes the entity or character reference at `start`. Returns `nil` when its end is not in the input yet.
    static func entity(_ bytes: UnsafeRawBufferPointer, at start: Int) throws(XMLStreamError) -> (Unicode.Scalar, Int)? {
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
    static func attributeValue(_ raw: UnsafeRawBufferPointer, maxText: Int) throws(XMLStreamError) -> String {
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
