/// Turning validated bytes into strings, and decoding entity and character references.
enum XMLText {
    /// Makes a string from UTF-8 bytes, rejecting invalid UTF-8 and code points that XML 1.0 does not allow
    /// (surrogates, U+FFFE, U+FFFF, beyond U+10FFFF).
    @inline(__always)
    static func string(_ bytes: UnsafeRawBufferPointer) throws(XMLStreamError) -> String {
        if !isASCII(bytes) {
            guard isValidXMLUTF8(bytes) else { throw .notWellFormed("invalid UTF-8") }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Makes a string from UTF-8 bytes held in an array, with the checks of ``string(_:)-(UnsafeRawBufferPointer)``.
    static func string(_ bytes: [UInt8]) throws(XMLStreamError) -> String {
        let valid = bytes.withUnsafeBytes { isASCII($0) || isValidXMLUTF8($0) }
        guard valid else { throw .notWellFormed("invalid UTF-8") }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// XML white space (`S` in XML 1.0): space, tab, line feed, carriage return.
    @inline(__always)
    static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
    }

    /// Whether every byte is below 0x80, checked eight bytes at a time.
    @inline(__always)
    static func isASCII(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var index = 0
        let count = bytes.count
        while index + 8 <= count {
            if bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self) & 0x8080_8080_8080_8080 != 0 { return false }
            index += 8
        }
        while index < count {
            if bytes[index] >= 0x80 { return false }
            index += 1
        }
        return true
    }

    /// A strict UTF-8 check (RFC 3629: no overlong forms, no surrogates) that also rejects U+FFFE and U+FFFF.
    static func isValidXMLUTF8(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var index = 0
        let count = bytes.count
        while index < count {
            let lead = bytes[index]
            if lead < 0x80 {
                index += 1
                continue
            }
            let length: Int
            var scalar: UInt32
            switch lead {
            case 0xC2...0xDF: length = 2; scalar = UInt32(lead & 0x1F)
            case 0xE0...0xEF: length = 3; scalar = UInt32(lead & 0x0F)
            case 0xF0...0xF4: length = 4; scalar = UInt32(lead & 0x07)
            default: return false
            }
            guard index + length <= count else { return false }
            for offset in 1..<length {
                let continuation = bytes[index + offset]
                guard continuation & 0xC0 == 0x80 else { return false }
                scalar = scalar << 6 | UInt32(continuation & 0x3F)
            }
            switch length {
            case 3 where scalar < 0x800 || (0xD800...0xDFFF).contains(scalar) || scalar == 0xFFFE || scalar == 0xFFFF:
                return false
            case 4 where scalar < 0x10000 || scalar > 0x10FFFF:
                return false
            default:
                break
            }
            index += length
        }
        return true
    }

    /// Decodes the inside of `&...;`: one of the five predefined entities or a character reference.
    /// Any other entity would need a DTD, which XMPP forbids (RFC 6120 §11.1). Allocates nothing.
    static func decodeReference(_ reference: UnsafeRawBufferPointer) throws(XMLStreamError) -> Unicode.Scalar {
        if let predefined = predefinedEntity(reference) { return predefined }
        guard reference.first == UInt8(ascii: "#") else {
            if reference.isEmpty { throw .notWellFormed("empty entity reference") }
            throw .restricted("undefined entity '\(String(decoding: reference, as: UTF8.self))'")
        }
        var digits = reference.dropFirst()
        var radix: UInt32 = 10
        if digits.first == UInt8(ascii: "x") {
            radix = 16
            digits = digits.dropFirst()
        }
        guard !digits.isEmpty, digits.count <= 8 else { throw .notWellFormed("malformed character reference") }
        var value: UInt32 = 0
        for digit in digits {
            let digitValue: UInt32
            switch digit {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digitValue = UInt32(digit - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f") where radix == 16: digitValue = UInt32(digit - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F") where radix == 16: digitValue = UInt32(digit - UInt8(ascii: "A") + 10)
            default: throw .notWellFormed("malformed character reference")
            }
            value = value * radix + digitValue
        }
        guard isXMLCharacter(value), let scalar = Unicode.Scalar(value) else {
            throw .notWellFormed("character reference to a character XML does not allow")
        }
        return scalar
    }

    /// `amp`, `lt`, `gt`, `quot` and `apos`, compared byte by byte.
    private static func predefinedEntity(_ name: UnsafeRawBufferPointer) -> Unicode.Scalar? {
        func matches(_ literal: StaticString) -> Bool {
            guard literal.utf8CodeUnitCount == name.count else { return false }
            for index in 0..<name.count where name[index] != literal.utf8Start[index] { return false }
            return true
        }
        switch name.count {
        case 2: return matches("lt") ? "<" : matches("gt") ? ">" : nil
        case 3: return matches("amp") ? "&" : nil
        case 4: return matches("quot") ? "\"" : matches("apos") ? "'" : nil
        default: return nil
        }
    }

    /// Appends the UTF-8 encoding of `scalar`.
    @inline(__always)
    static func appendUTF8(_ scalar: Unicode.Scalar, to bytes: inout [UInt8]) {
        UTF8.encode(scalar) { bytes.append($0) }
    }

    /// XML 1.0 `Char`: tab, LF, CR, and U+0020 to U+10FFFF except surrogates, U+FFFE and U+FFFF.
    static func isXMLCharacter(_ value: UInt32) -> Bool {
        switch value {
        case 0x09, 0x0A, 0x0D, 0x20...0xD7FF, 0xE000...0xFFFD, 0x10000...0x10FFFF: return true
        default: return false
        }
    }
}
