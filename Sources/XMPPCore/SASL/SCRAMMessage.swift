/// Parsing of SCRAM's `attr=value,attr=value` messages and the `saslname` encoding (RFC 5802 §5.1, §7).
enum SCRAMMessage {
    /// Splits a message into its attributes in order. Each must be a single letter followed by `=`.
    static func attributes(_ text: Substring) throws(SASLError) -> [(Character, Substring)] {
        var result: [(Character, Substring)] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard part.count >= 2, let key = part.first, key.isLetter, key.isASCII,
                  part[part.index(after: part.startIndex)] == "=" else {
                throw SASLError(.malformedRequest, text: "malformed SCRAM attribute")
            }
            result.append((key, part.dropFirst(2)))
        }
        return result
    }

    /// The value of the attribute `key`, which must be at `position`.
    static func required(_ attributes: [(Character, Substring)], _ key: Character, at position: Int) throws(SASLError) -> Substring {
        guard position < attributes.count, attributes[position].0 == key else {
            throw SASLError(.malformedRequest, text: "SCRAM attribute \(key) missing")
        }
        return attributes[position].1
    }

    /// Encodes a username for `n=`: `,` as `=2C` and `=` as `=3D`.
    static func encodeName(_ name: String) -> String {
        var result = ""
        for character in name {
            switch character {
            case ",": result += "=2C"
            case "=": result += "=3D"
            default: result.append(character)
            }
        }
        return result
    }

    /// Decodes a `saslname`; any `=` not followed by `2C` or `3D` is malformed.
    static func decodeName(_ encoded: Substring) throws(SASLError) -> String {
        var result = ""
        var index = encoded.startIndex
        while index < encoded.endIndex {
            let character = encoded[index]
            if character == "=" {
                let code = encoded[encoded.index(after: index)...].prefix(2)
                switch code {
                case "2C": result.append(",")
                case "3D": result.append("=")
                default: throw SASLError(.malformedRequest, text: "malformed saslname")
                }
                index = encoded.index(index, offsetBy: 3)
            } else {
                result.append(character)
                index = encoded.index(after: index)
            }
        }
        return result
    }

    static func text(_ bytes: [UInt8]) throws(SASLError) -> String {
        guard let text = String(validUTF8: bytes) else {
            throw SASLError(.malformedRequest, text: "SCRAM message is not UTF-8")
        }
        return text
    }
}
