/// The few parts of a DNS message (RFC 1035 §4) an SRV lookup needs: a query, and the SRV records
/// (RFC 2782) of an answer, with name compression. Shared by the client (`_xmpp-client._tcp`) and the server's
/// federation (`_xmpp-server._tcp`).
public enum DNSMessage {
    /// One SRV record.
    public struct SRVRecord: Sendable, Hashable {
        /// Lower is tried first.
        public var priority: UInt16
        /// Among equal priorities, higher is preferred.
        public var weight: UInt16
        /// The service's port on the target.
        public var port: UInt16
        /// The target host, without the trailing dot; "." (service not offered) reads as "".
        public var target: String

        /// Creates a record.
        public init(priority: UInt16, weight: UInt16, port: UInt16, target: String) {
            self.priority = priority
            self.weight = weight
            self.port = port
            self.target = target
        }
    }

    /// The SRV record type.
    public static let srvType: UInt16 = 33
    /// The Internet class.
    public static let internetClass: UInt16 = 1

    /// A recursive query for the SRV records of `name`.
    public static func query(id: UInt16, name: String) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.append(uint16: id)
        bytes.append(uint16: 0x0100)            // standard query, recursion desired
        bytes.append(uint16: 1)                 // one question
        bytes += [0, 0, 0, 0, 0, 0]             // no answer, authority or additional records
        bytes += encodeName(name)
        bytes.append(uint16: srvType)
        bytes.append(uint16: internetClass)
        return bytes
    }

    /// A name as length-prefixed labels.
    public static func encodeName(_ name: String) -> [UInt8] {
        var bytes: [UInt8] = []
        for label in name.split(separator: ".") where !label.isEmpty {
            let utf8 = Array(label.utf8.prefix(63))
            bytes.append(UInt8(utf8.count))
            bytes += utf8
        }
        bytes.append(0)
        return bytes
    }

    /// What an answer says.
    public enum Answer: Equatable, Sendable {
        /// The records found (possibly none).
        case records([SRVRecord])
        /// The name does not exist (NXDOMAIN).
        case noSuchName
        /// The server failed or refused.
        case failure(rcode: UInt8)
    }

    /// Reads the answer to query `id`, or `nil` when the bytes are not that answer or are malformed.
    public static func parseAnswer(_ bytes: [UInt8], id: UInt16) -> Answer? {
        var reader = Reader(bytes: bytes)
        guard let answerID = reader.uint16(), answerID == id, let flags = reader.uint16(), flags & 0x8000 != 0,
              let questions = reader.uint16(), let answers = reader.uint16(), reader.skip(4) else { return nil }
        let rcode = UInt8(flags & 0x000F)
        if rcode == 3 { return .noSuchName }
        if rcode != 0 { return .failure(rcode: rcode) }
        for _ in 0..<questions {
            guard reader.name() != nil, reader.skip(4) else { return nil }
        }
        var records: [SRVRecord] = []
        for _ in 0..<answers {
            guard reader.name() != nil, let type = reader.uint16(), let _ = reader.uint16(), reader.skip(4),
                  let length = reader.uint16() else { return nil }
            let end = reader.offset + Int(length)
            if type == srvType {
                guard let record = reader.srvRecord() else { return nil }
                records.append(record)
            }
            guard end <= bytes.count else { return nil }
            reader.offset = end
        }
        return .records(records)
    }

    /// Reads the data of one SRV record (priority, weight, port, target), as the system resolver hands it over on
    /// Apple platforms; `nil` when malformed.
    public static func parseSRVData(_ bytes: [UInt8]) -> SRVRecord? {
        var reader = Reader(bytes: bytes)
        return reader.srvRecord()
    }

    private struct Reader {
        let bytes: [UInt8]
        var offset = 0

        mutating func uint16() -> UInt16? {
            guard offset + 2 <= bytes.count else { return nil }
            defer { offset += 2 }
            return UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
        }

        mutating func skip(_ count: Int) -> Bool {
            guard offset + count <= bytes.count else { return false }
            offset += count
            return true
        }

        /// The data of an SRV record.
        mutating func srvRecord() -> SRVRecord? {
            guard let priority = uint16(), let weight = uint16(), let port = uint16(), let target = name() else { return nil }
            return SRVRecord(priority: priority, weight: weight, port: port, target: target)
        }

        /// A possibly compressed name; the offset moves past its in-place part only.
        mutating func name() -> String? {
            var labels: [String] = []
            var position = offset
            var jumped = false
            var jumps = 0
            while true {
                guard position < bytes.count else { return nil }
                let length = Int(bytes[position])
                if length == 0 {
                    if !jumped { offset = position + 1 }
                    return labels.joined(separator: ".")
                }
                if length & 0xC0 == 0xC0 {
                    guard position + 1 < bytes.count, jumps < 16 else { return nil }
                    if !jumped { offset = position + 2 }
                    jumped = true
                    jumps += 1
                    position = (length & 0x3F) << 8 | Int(bytes[position + 1])
                    continue
                }
                guard position + 1 + length <= bytes.count else { return nil }
                labels.append(String(decoding: bytes[(position + 1)..<(position + 1 + length)], as: UTF8.self))
                position += 1 + length
            }
        }
    }
}

extension [UInt8] {
    /// Appends `value` in network byte order.
    mutating func append(uint16 value: UInt16) {
        append(UInt8(value >> 8))
        append(UInt8(value & 0xFF))
    }
}
