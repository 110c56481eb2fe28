import NIOCore

extension Element {
    /// Writes the element as XML into `buffer`, escaping text and attribute values.
    ///
    /// - Parameters:
    ///   - buffer: The buffer to append to.
    ///   - inheritedNamespace: The default namespace in scope where the element is written. Inside a
    ///     client stream this is `jabber:client`, so a `<message/>` in that namespace needs no `xmlns`.
    ///
    /// Characters that XML 1.0 cannot carry (most C0 controls, U+FFFE, U+FFFF) are written as U+FFFD, so the
    /// output always parses. Parsing the output gives back an equal element.
    public func write(to buffer: inout ByteBuffer, inheritedNamespace: String = "") {
        writeTag(to: &buffer, prefix: nil, declaresNamespace: namespace != inheritedNamespace)
    }

    /// Writes the element, its children and its end tag. With a `prefix` (`stream:`, `db:`), the name is written
    /// with it and relies on the stream header's declaration of that prefix.
    func writeTag(to buffer: inout ByteBuffer, prefix: StaticString?, declaresNamespace: Bool) {
        buffer.writeInteger(UInt8(ascii: "<"))
        if let prefix { buffer.writeStaticString(prefix) }
        buffer.writeString(name)
        if declaresNamespace {
            buffer.writeStaticString(" xmlns='")
            XMLEscaping.writeEscaped(namespace, to: &buffer, inAttribute: true)
            buffer.writeInteger(UInt8(ascii: "'"))
        }
        writeAttributes(to: &buffer)
        if children.isEmpty {
            buffer.writeStaticString("/>")
            return
        }
        buffer.writeInteger(UInt8(ascii: ">"))
        writeChildren(to: &buffer)
        buffer.writeStaticString("</")
        if let prefix { buffer.writeStaticString(prefix) }
        buffer.writeString(name)
        buffer.writeInteger(UInt8(ascii: ">"))
    }

    /// Writes the children only (no enclosing tag), as they appear inside this element.
    public func writeChildren(to buffer: inout ByteBuffer) {
        for child in children {
            switch child {
            case .element(let element):
                element.write(to: &buffer, inheritedNamespace: namespace)
            case .text(let text):
                XMLEscaping.writeEscaped(text, to: &buffer)
            }
        }
    }

    /// Writes the attributes with a leading space each. Qualified attributes other than `xml:*` get a
    /// generated prefix (`ns1`, `ns2`, ...) declared on this element.
    func writeAttributes(to buffer: inout ByteBuffer) {
        var generatedPrefixes = 0
        for attribute in attributes {
            buffer.writeInteger(UInt8(ascii: " "))
            if attribute.namespace == XMLNamespace.xml {
                buffer.writeStaticString("xml:")
            } else if !attribute.namespace.isEmpty {
                generatedPrefixes += 1
                buffer.writeString("xmlns:ns\(generatedPrefixes)='")
                XMLEscaping.writeEscaped(attribute.namespace, to: &buffer, inAttribute: true)
                buffer.writeString("' ns\(generatedPrefixes):")
            }
            buffer.writeString(attribute.name)
            buffer.writeStaticString("='")
            XMLEscaping.writeEscaped(attribute.value, to: &buffer, inAttribute: true)
            buffer.writeInteger(UInt8(ascii: "'"))
        }
    }

    /// The element serialized as a string; for logs, tests and debugging, not for the hot path.
    public var xmlString: String {
        var buffer = ByteBuffer()
        write(to: &buffer)
        return String(buffer: buffer)
    }
}

extension Element: CustomStringConvertible {
    /// The serialized XML of the element.
    public var description: String { xmlString }
}

/// Escaping of text and attribute values straight into a `ByteBuffer`, without intermediate strings.
enum XMLEscaping {
    /// Writes `string` escaped for character data, or for a quoted attribute value when `inAttribute` is set:
    /// there quotes, tab and line feed become references too (readers normalize whitespace in attributes). In
    /// character data quotes stay as they are: escaping them only made text up to six times longer.
    static func writeEscaped(_ string: String, to buffer: inout ByteBuffer, inAttribute: Bool = false) {
        var string = string
        string.withUTF8 { bytes in
            // Fast path: most text needs no escaping at all.
            if !bytes.contains(where: { needsAttention($0) || (inAttribute && Self.mattersInAttribute($0)) }) {
                buffer.writeBytes(bytes)
                return
            }
            var runStart = 0
            var index = 0
            while index < bytes.count {
                let byte = bytes[index]
                let replacement: StaticString?
                var width = 1
                switch byte {
                case UInt8(ascii: "&"): replacement = "&amp;"
                case UInt8(ascii: "<"): replacement = "&lt;"
                case UInt8(ascii: ">"): replacement = "&gt;"
                case UInt8(ascii: "'"): replacement = inAttribute ? "&apos;" : nil
                case UInt8(ascii: "\""): replacement = inAttribute ? "&quot;" : nil
                case 0x09: replacement = inAttribute ? "&#9;" : nil
                case 0x0A: replacement = inAttribute ? "&#10;" : nil
                case 0x0D: replacement = "&#13;"  // a literal CR would be normalized away by the reader
                case 0..<0x20: replacement = "\u{FFFD}"
                case 0xEF where index + 2 < bytes.count && bytes[index + 1] == 0xBF
                    && (bytes[index + 2] == 0xBE || bytes[index + 2] == 0xBF):
                    // U+FFFE and U+FFFF are not XML characters.
                    replacement = "\u{FFFD}"
                    width = 3
                default: replacement = nil
                }
                if let replacement {
                    buffer.writeBytes(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[runStart..<index]))
                    buffer.writeStaticString(replacement)
                    index += width
                    runStart = index
                } else {
                    index += 1
                }
            }
            buffer.writeBytes(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[runStart..<bytes.count]))
        }
    }

    @inline(__always)
    private static func mattersInAttribute(_ byte: UInt8) -> Bool {
        byte == 0x09 || byte == 0x0A || byte == UInt8(ascii: "'") || byte == UInt8(ascii: "\"")
    }

    @inline(__always)
    private static func needsAttention(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "&"), UInt8(ascii: "<"), UInt8(ascii: ">"): return true
        case 0x09, 0x0A: return false
        case 0..<0x20, 0xEF: return true
        default: return false
        }
    }
}
