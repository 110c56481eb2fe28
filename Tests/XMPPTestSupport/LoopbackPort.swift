import Foundation
import XMPPCore

/// Loopback ports for servers a test starts as separate processes (Prosody, xmppd), which must be told their port
/// before they bind it.
///
/// A port is handed out only once per test process and is taken from below the kernel's ephemeral range: every
/// `bind(port: 0)` and every outgoing connection of the tests gets its port from that range, so none of them can
/// take a port between the moment it is chosen and the moment the server binds it (or binds it again after a
/// restart). Before this, a Prosody that lost its port to another test's listener left the test talking TLS bytes
/// to a client that expected XML.
public enum LoopbackPort {
    /// Ports handed out so far by this process, as an offset into the range.
    private static let handedOut = Locked<Int>(Int.random(in: 0..<4096))

    /// A port nobody listens on now, below the ephemeral range, never handed out before by this process.
    public static func free() throws -> Int {
        let range = candidateRange()
        for _ in 0..<range.count {
            let port = handedOut.withLock { offset in
                defer { offset += 1 }
                return range.lowerBound + offset % range.count
            }
            if canBind(port: port) { return port }
        }
        throw TestSetupError("no free loopback port in \(range)")
    }

    /// Whether something on 127.0.0.1 accepts TCP connections on `port`.
    public static func isListening(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = loopback(port: port)
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    /// Whether process `pid` itself listens on `port` (a listening socket in `/proc/net/tcp` that is one of its
    /// open files), not merely someone.
    public static func isListening(port: Int, byProcess pid: Int32) -> Bool {
        guard let inodes = listeningSocketInodes(port: port), !inodes.isEmpty,
              let descriptors = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd") else { return false }
        return descriptors.contains { descriptor in
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(descriptor)") else {
                return false
            }
            return inodes.contains(target)
        }
    }

    /// `socket:[inode]` of every listening TCP socket (IPv4 or IPv6) on `port`.
    static func listeningSocketInodes(port: Int) -> Set<String>? {
        let wantedPort = String(format: "%04X", port)
        var inodes: Set<String> = []
        for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
            guard let text = readWhole(table) else { continue }
            for line in text.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ", omittingEmptySubsequences: true)
                // sl, local_address, rem_address, st, tx:rx, tr:when, retrnsmt, uid, timeout, inode
                guard fields.count > 9, fields[3] == "0A", fields[1].hasSuffix(":" + wantedPort) else { continue }
                inodes.insert("socket:[\(fields[9])]")
            }
        }
        return inodes
    }

    /// The whole of a `/proc` file. (Foundation's readers trust the size `stat` reports, 0 for these, and can stop
    /// after the first page: with many sockets open, the listener sought may be further down.)
    static func readWhole(_ path: String) -> String? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            guard count > 0 else { break }
            bytes += chunk[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Where ``free()`` looks: from 10000 up to the start of the ephemeral range (32768 when it cannot be read).
    public static func candidateRange() -> Range<Int> {
        let text = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8)) ?? ""
        let ephemeralStart = text.split(whereSeparator: \.isWhitespace).first.flatMap { Int($0) } ?? 32768
        return 10_000..<max(ephemeralStart, 10_001)
    }

    private static func canBind(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = loopback(port: port)
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }
}
