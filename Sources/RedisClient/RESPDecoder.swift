import NIOCore

/// Why bytes from the server are not RESP, or exceed the client's bounds.
public struct RESPProtocolError: Error, Sendable, CustomStringConvertible {
    public var description: String
}

/// Reads RESP3 values from a byte stream; a value split across reads waits for the rest. Bulk strings are bounded by
/// ``maxBulkBytes``, aggregates by ``maxElements`` and nesting by ``maxDepth``.
public struct RESPDecoder: ByteToMessageDecoder, Sendable {
    public typealias InboundOut = RESPValue

    public var maxBulkBytes: Int
    public var maxElements: Int
    public var maxDepth: Int

    public init(maxBulkBytes: Int = 64 << 20, maxElements: Int = 1 << 20, maxDepth: Int = 32) {
        self.maxBulkBytes = maxBulkBytes
        self.maxElements = maxElements
        self.maxDepth = maxDepth
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let value = try parse(&buffer) else { return .needMoreData }
        context.fireChannelRead(wrapInboundOut(value))
        return .continue
    }

    public mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        try decode(context: context, buffer: &buffer)
    }

    /// One whole value from the front of `buffer` (consumed), or nil (nothing consumed) when it is not all there yet.
    public func parse(_ buffer: inout ByteBuffer) throws -> RESPValue? {
        var reader = buffer
        guard let value = try value(&reader, depth: 0) else { return nil }
        buffer = reader
        return value
    }

    private func value(_ buffer: inout ByteBuffer, depth: Int) throws -> RESPValue? {
        guard depth <= maxDepth else { throw RESPProtocolError(description: "values nested deeper than \(maxDepth)") }
        guard let type = buffer.readInteger(as: UInt8.self) else { return nil }
        guard let line = readLine(&buffer) else {
            if buffer.readableBytes > 65_536 { throw RESPProtocolError(description: "a header line longer than 64 KiB") }
            return nil
        }
        switch type {
        case UInt8(ascii: "+"): return .simpleString(line)
        case UInt8(ascii: "-"): return .error(line)
        case UInt8(ascii: ":"):
            guard let number = Int64(line) else { throw RESPProtocolError(description: "not an integer: \(line)") }
            return .integer(number)
        case UInt8(ascii: "_"): return .null
        case UInt8(ascii: "#"): return .boolean(line == "t")
        case UInt8(ascii: ","):
            guard let number = line == "inf" ? Double.infinity : line == "-inf" ? -Double.infinity : Double(line) else {
                throw RESPProtocolError(description: "not a double: \(line)")
            }
            return .double(number)
        case UInt8(ascii: "("): return .bigNumber(line)
        case UInt8(ascii: "$"), UInt8(ascii: "="), UInt8(ascii: "!"):
            let length = try count(line)
            if length < 0 { return .bulkString(nil) }
            guard length <= maxBulkBytes else { throw RESPProtocolError(description: "a bulk string of \(length) bytes (at most \(maxBulkBytes))") }
            guard buffer.readableBytes >= length + 2, let bytes = buffer.readBytes(length: length) else { return nil }
            buffer.moveReaderIndex(forwardBy: 2)
            switch type {
            case UInt8(ascii: "!"): return .error(String(decoding: bytes, as: UTF8.self))
            case UInt8(ascii: "="):
                let text = String(decoding: bytes, as: UTF8.self)
                return .verbatim(format: String(text.prefix(3)), text: String(text.dropFirst(4)))
            default: return .bulkString(bytes)
            }
        case UInt8(ascii: "*"), UInt8(ascii: "~"), UInt8(ascii: ">"), UInt8(ascii: "%"), UInt8(ascii: "|"):
            let length = try count(line)
            if length < 0 { return .array(nil) }
            let items = type == UInt8(ascii: "%") || type == UInt8(ascii: "|") ? length * 2 : length
            guard items <= maxElements else { throw RESPProtocolError(description: "an aggregate of \(items) elements (at most \(maxElements))") }
            var values: [RESPValue] = []
            values.reserveCapacity(min(items, 1024))
            for _ in 0..<items {
                guard let element = try value(&buffer, depth: depth + 1) else { return nil }
                values.append(element)
            }
            switch type {
            case UInt8(ascii: "~"): return .set(values)
            case UInt8(ascii: ">"): return .push(values)
            case UInt8(ascii: "%"):
                return .map(stride(from: 0, to: values.count, by: 2).map { (values[$0], values[$0 + 1]) })
            case UInt8(ascii: "|"):
                // Attributes describe the value that follows; the value is what the caller wants.
                return try value(&buffer, depth: depth + 1)
            default: return .array(values)
            }
        default:
            throw RESPProtocolError(description: "unknown type byte \(type)")
        }
    }

    private func count(_ line: String) throws -> Int {
        guard let number = Int(line), number >= -1 else { throw RESPProtocolError(description: "not a length: \(line)") }
        return number
    }

    /// The text up to CRLF (consumed with it), or nil when no CRLF has arrived; lines are bounded.
    private func readLine(_ buffer: inout ByteBuffer) -> String? {
        let view = buffer.readableBytesView
        guard let cr = view.firstIndex(of: UInt8(ascii: "\r")), view.index(after: cr) < view.endIndex,
              view[view.index(after: cr)] == UInt8(ascii: "\n") else { return nil }
        let length = cr - view.startIndex
        let text = buffer.readString(length: length)
        buffer.moveReaderIndex(forwardBy: 2)
        return text
    }
}

/// Writes commands as RESP arrays of bulk strings.
public struct RESPCommandEncoder: MessageToByteEncoder, Sendable {
    public typealias OutboundIn = [String]

    public init() {}

    public func encode(data command: [String], out: inout ByteBuffer) throws {
        Self.write(command, into: &out)
    }

    public static func write(_ command: [String], into out: inout ByteBuffer) {
        out.writeString("*\(command.count)\r\n")
        for argument in command {
            out.writeString("$\(argument.utf8.count)\r\n")
            out.writeString(argument)
            out.writeString("\r\n")
        }
    }
}
