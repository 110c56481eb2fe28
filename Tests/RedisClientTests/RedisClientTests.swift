import Foundation
import NIOCore
import RedisClient
import Testing
import XMPPTestSupport

/// The RESP3 client against a real redis-server on loopback: commands, pipelining, pub/sub pushes on a connection that
/// keeps running commands, expiring keys (the cluster's liveness), and a server that goes away.
@Suite struct RedisClientTests {
    @Test(.timeLimit(.minutes(1)))
    func commandsAndPipelining() async throws {
        let server = try await RedisTestServer.start()
        defer { Task { await server.stop() } }
        let redis = try await RedisConnection.connect(host: "127.0.0.1", port: server.port)
        defer { Task { await redis.close() } }
        #expect(try await redis.send(["SET", "greeting", "hello world"]).string == "OK")
        #expect(try await redis.send(["GET", "greeting"]).string == "hello world")
        #expect(try await redis.send(["GET", "missing"]).isNull)
        await #expect(throws: RedisError.self) { try await redis.send(["INCR", "greeting"]) }
        #expect(try await redis.send(["PING"]).string == "PONG", "the connection goes on after an error answer")
        let answers = try await redis.pipeline((1...1000).map { _ in ["INCR", "counter"] })
        #expect(answers.map(\.integer) == (1...1000).map { Int64($0) }, "each answer to its command, in order")
        let map = try await redis.send(["HELLO", "3"])
        guard case .map(let fields) = map else { Issue.record("HELLO 3 answers a map in RESP3: \(map)"); return }
        #expect(fields.contains { $0.key.string == "proto" && $0.value.integer == 3 })
    }

    @Test(.timeLimit(.minutes(1)))
    func publishSubscribeAndExpiry() async throws {
        let server = try await RedisTestServer.start()
        defer { Task { await server.stop() } }
        let subscriber = try await RedisConnection.connect(host: "127.0.0.1", port: server.port)
        let publisher = try await RedisConnection.connect(host: "127.0.0.1", port: server.port)
        defer { Task { await subscriber.close(); await publisher.close() } }
        var pushes = subscriber.pushes.makeAsyncIterator()
        try await subscriber.subscribe(["node:2"])
        let confirmation = await pushes.next()
        #expect(confirmation?.first?.string == "subscribe" && confirmation?.dropFirst().first?.string == "node:2")
        #expect(try await publisher.send(["PUBLISH", "node:2", "<message/>"]).integer == 1)
        let message = await pushes.next()
        #expect(message?.map(\.string) == ["message", "node:2", "<message/>"])
        #expect(try await subscriber.send(["PING"]).string == "PONG", "commands still run on a subscribed RESP3 connection")

        // A key with a time to live goes by itself: how a dead node's entry leaves the directory.
        // (Long enough to be there when asked under any load, then shortened: no timing assumption.)
        _ = try await publisher.send(["SET", "alive:node1", "1", "EX", "600"])
        #expect(try await publisher.send(["EXISTS", "alive:node1"]).integer == 1)
        #expect((1...600).contains(try await publisher.send(["TTL", "alive:node1"]).integer ?? 0))
        _ = try await publisher.send(["PEXPIRE", "alive:node1", "100"])
        var gone = false
        for _ in 0..<400 where !gone {
            try await Task.sleep(for: .milliseconds(50))
            gone = try await publisher.send(["EXISTS", "alive:node1"]).integer == 0
        }
        #expect(gone)
    }

    @Test(.timeLimit(.minutes(1)))
    func aServerThatGoesAwayFailsCommands() async throws {
        let server = try await RedisTestServer.start()
        let redis = try await RedisConnection.connect(host: "127.0.0.1", port: server.port)
        #expect(try await redis.send(["PING"]).string == "PONG")
        await server.stop()
        var failed = false
        for _ in 0..<400 where !failed {
            do { _ = try await redis.send(["PING"]) } catch { failed = true }
            if !failed { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(failed && !redis.isActive, "commands fail (not hang) once the server is gone")
        var pushes = redis.pushes.makeAsyncIterator()
        #expect(await pushes.next() == nil, "the pushes end with the connection")
        await #expect(throws: (any Error).self) { _ = try await RedisConnection.connect(host: "127.0.0.1", port: server.port) }
    }
}

/// The decoder on its own: every RESP3 type, values split anywhere, and its bounds.
@Suite struct RESPDecoderTests {
    static let sample = "*9\r\n+OK\r\n-ERR no\r\n:-42\r\n$5\r\nhello\r\n$-1\r\n_\r\n#t\r\n,3.5\r\n%1\r\n+k\r\n~2\r\n:1\r\n:2\r\n"

    @Test func everyTypeAndEverySplit() throws {
        let bytes = Array(Self.sample.utf8)
        let expected = RESPValue.array([
            .simpleString("OK"), .error("ERR no"), .integer(-42), .bulkString(Array("hello".utf8)), .bulkString(nil), .null,
            .boolean(true), .double(3.5), .map([(key: .simpleString("k"), value: .set([.integer(1), .integer(2)]))]),
        ])
        let decoder = RESPDecoder()
        for split in 0...bytes.count {
            var buffer = ByteBuffer(bytes: bytes[..<split])
            if split < bytes.count {
                #expect(try decoder.parse(&buffer) == nil, "incomplete at \(split)")
                #expect(buffer.readableBytes == split, "nothing consumed while incomplete")
                buffer.writeBytes(bytes[split...])
            }
            #expect(try decoder.parse(&buffer) == expected)
            #expect(buffer.readableBytes == 0)
        }
        var more = ByteBuffer(string: ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$1\r\nx\r\n=8\r\ntxt:abcd\r\n(123456789012345678901\r\n|1\r\n+ttl\r\n:5\r\n:7\r\n")
        #expect(try decoder.parse(&more) == .push([.bulkString(Array("message".utf8)), .bulkString(Array("ch".utf8)), .bulkString([120])]))
        #expect(try decoder.parse(&more) == .verbatim(format: "txt", text: "abcd"))
        #expect(try decoder.parse(&more) == .bigNumber("123456789012345678901"))
        #expect(try decoder.parse(&more) == .integer(7), "attributes describe the value after them")
    }

    @Test func boundsAndGarbage() {
        let small = RESPDecoder(maxBulkBytes: 10, maxElements: 4, maxDepth: 3)
        var big = ByteBuffer(string: "$11\r\nhello world\r\n")
        #expect(throws: RESPProtocolError.self) { try small.parse(&big) }
        var many = ByteBuffer(string: "*5\r\n")
        #expect(throws: RESPProtocolError.self) { try small.parse(&many) }
        var deep = ByteBuffer(string: "*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n")
        #expect(throws: RESPProtocolError.self) { try small.parse(&deep) }
        var unknown = ByteBuffer(string: "?what\r\n")
        #expect(throws: RESPProtocolError.self) { try small.parse(&unknown) }
        var endless = ByteBuffer(string: "+" + String(repeating: "a", count: 70_000))
        #expect(throws: RESPProtocolError.self) { try small.parse(&endless) }
        var encoded = ByteBuffer()
        RESPCommandEncoder.write(["SET", "k", "a b\r\nc"], into: &encoded)
        #expect(String(buffer: encoded) == "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$6\r\na b\r\nc\r\n", "arguments are binary-safe")
    }
}
