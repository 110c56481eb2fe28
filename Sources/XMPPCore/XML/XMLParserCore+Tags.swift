// Start and end tags, attributes, namespace resolution and names.
extension XMLParserCore {
    // MARK: - Tags

    /// Opens an element; when it is the root, or is self-closing and completes a stanza, sets `completed`.
    mutating func startTag(_ bytes: UnsafeRawBufferPointer, start: Int, end: Int) throws(XMLStreamError) {
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

    mutating func endTag(_ bytes: UnsafeRawBufferPointer, start: Int, end: Int) throws(XMLStreamError) {
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
    mutating func closeInnermost() {
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
    mutating func attribute(_ bytes: UnsafeRawBufferPointer, from start: Int, limit: Int) throws(XMLStreamError) -> Int {
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
    static func isPlain(_ raw: UnsafeRawBufferPointer) -> Bool {
        !raw.contains { $0 == UInt8(ascii: "&") || $0 == UInt8(ascii: "<") || $0 < 0x20 }
    }

    static func isXMLNS(_ bytes: UnsafeRawBufferPointer, start: Int, end: Int) -> Bool {
        end - start == 5 && bytes[start] == UInt8(ascii: "x") && bytes[start + 1] == UInt8(ascii: "m")
            && bytes[start + 2] == UInt8(ascii: "l") && bytes[start + 3] == UInt8(ascii: "n") && bytes[start + 4] == UInt8(ascii: "s")
    }



    /// The namespace of a name: its prefix's binding, or the default namespace for unprefixed element names.
    static func resolve(_ bytes: UnsafeRawBufferPointer, prefixStart: Int, colon: Int?, isElement: Bool,
                                in scopes: borrowing NamespaceScopes) throws(XMLStreamError) -> String {
        guard let colon else { return isElement ? scopes.defaultNamespace() : "" }
        return try scopes.uri(for: UnsafeRawBufferPointer(rebasing: bytes[prefixStart..<colon]))
    }

    // MARK: - Names

    /// Scans an XML name from `start`; returns the index after it. Validates the ASCII name characters and
    /// defers multi-byte characters to UTF-8 validation.
    static func scanName(_ bytes: UnsafeRawBufferPointer, from start: Int, limit: Int, maxNameBytes: Int) throws(XMLStreamError) -> Int {
        var index = start
        while index < limit {
            let byte = bytes[index]
            if byte >= 0x80 || Self.isNameByte(byte) {
                index += 1
            } else if XMLText.isSpace(byte) || byte == UInt8(ascii: "=") || byte == UInt8(ascii: "/") {
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
    static func isNameByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: ":"):
            return true
        default:
            return false
        }
    }

    /// The index of the prefix separator in a qualified name; a name with more than one colon is rejected.
    static func firstColon(_ bytes: UnsafeRawBufferPointer, from start: Int, to end: Int) -> Int? {
        var index = start
        while index < end {
            if bytes[index] == UInt8(ascii: ":") { return index }
            index += 1
        }
        return nil
    }

    static func makeName(_ bytes: UnsafeRawBufferPointer, from start: Int, to end: Int) throws(XMLStreamError) -> String {
        guard end > start else { throw .notWellFormed("empty local name") }
        let slice = UnsafeRawBufferPointer(rebasing: bytes[start..<end])
        if slice.contains(UInt8(ascii: ":")) { throw .notWellFormed("more than one colon in a name") }
        // The local part of a prefixed name must itself be a valid name start (Namespaces in XML, NCName).
        try Self.checkNameStart(slice[slice.startIndex])
        return try XMLText.string(slice)
    }

    static func skipSpace(_ bytes: UnsafeRawBufferPointer, from start: Int, limit: Int) -> Int {
        var index = start
        while index < limit && XMLText.isSpace(bytes[index]) { index += 1 }
        return index
    }
}
