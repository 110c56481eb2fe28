import NIOCore

/// One value of the Redis serialization protocol, RESP3 (which includes RESP2's five types).
public enum RESPValue: Sendable, Hashable {
    case simpleString(String)
    case error(String)
    case integer(Int64)
    /// A bulk string; nil is RESP2's null bulk string.
    case bulkString([UInt8]?)
    /// An array; nil is RESP2's null array.
    case array([RESPValue]?)
    case null
    case boolean(Bool)
    case double(Double)
    case bigNumber(String)
    case verbatim(format: String, text: String)
    case map([(key: RESPValue, value: RESPValue)])
    case set([RESPValue])
    /// Out-of-band data (RESP3 `>`): pub/sub messages, invalidations.
    case push([RESPValue])

    /// The value as text: simple, bulk and verbatim strings, numbers.
    public var string: String? {
        switch self {
        case .simpleString(let text), .bigNumber(let text): text
        case .bulkString(let bytes?): String(decoding: bytes, as: UTF8.self)
        case .verbatim(_, let text): text
        case .integer(let number): String(number)
        case .double(let number): String(number)
        default: nil
        }
    }

    /// The value as an integer: integers and numeric strings.
    public var integer: Int64? {
        if case .integer(let number) = self { return number }
        return string.flatMap { Int64($0) }
    }

    /// Whether it is RESP2's or RESP3's null.
    public var isNull: Bool {
        switch self {
        case .null, .bulkString(nil), .array(nil): true
        default: false
        }
    }

    /// The elements of an array, set or push.
    public var elements: [RESPValue]? {
        switch self {
        case .array(let values?), .set(let values), .push(let values): values
        default: nil
        }
    }

    public static func == (lhs: RESPValue, rhs: RESPValue) -> Bool {
        switch (lhs, rhs) {
        case (.simpleString(let a), .simpleString(let b)), (.error(let a), .error(let b)), (.bigNumber(let a), .bigNumber(let b)): a == b
        case (.integer(let a), .integer(let b)): a == b
        case (.bulkString(let a), .bulkString(let b)): a == b
        case (.array(let a), .array(let b)): a == b
        case (.null, .null): true
        case (.boolean(let a), .boolean(let b)): a == b
        case (.double(let a), .double(let b)): a == b || (a.isNaN && b.isNaN)
        case (.verbatim(let f1, let t1), .verbatim(let f2, let t2)): f1 == f2 && t1 == t2
        case (.map(let a), .map(let b)): a.count == b.count && zip(a, b).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        case (.set(let a), .set(let b)), (.push(let a), .push(let b)): a == b
        default: false
        }
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(string)
        hasher.combine(elements?.count)
    }
}
