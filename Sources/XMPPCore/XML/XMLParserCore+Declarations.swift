// The XML declaration, processing instructions, comments, DTDs and CDATA sections.
extension XMLParserCore {

    mutating func processingInstruction(_ bytes: UnsafeRawBufferPointer, at start: Int) throws(XMLStreamError) -> TokenOutcome {
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
    static func checkXMLDeclaration(_ declaration: String) throws(XMLStreamError) {
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
    static func pseudoAttribute(_ name: String, in declaration: Substring) -> Substring? {
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

    mutating func declarationOrCDATA(_ bytes: UnsafeRawBufferPointer, at start: Int) throws(XMLStreamError) -> TokenOutcome {
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

    static func find(_ bytes: UnsafeRawBufferPointer, _ needle: StaticString, from: Int) -> Int? {
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
}
