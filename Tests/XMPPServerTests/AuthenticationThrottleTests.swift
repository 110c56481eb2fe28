import Foundation
import Testing
import XMPPCore
import XMPPServer
import XMPPServerKernel
import XMPPTestSupport
@testable import XMPPServer

/// Failed-authentication throttling: a guesser is stopped at its address, an account guessed at from everywhere is
/// slowed, and nobody can lock the owner out.
@Suite struct AuthenticationThrottleTests {
    @Test func refusesTheAddressAndThePairButOnlySlowsTheAccount() {
        let throttle = AuthenticationThrottle(window: 60, perAddress: 3, perAccount: 2)
        throttle.recordFailure(address: "10.0.0.1", username: "alice")
        #expect(!throttle.isBlocked(address: "10.0.0.1", username: "alice"))
        throttle.recordFailure(address: "10.0.0.1", username: "alice")
        #expect(throttle.isBlocked(address: "10.0.0.1", username: "alice"), "this address guessed twice at alice")
        #expect(!throttle.isBlocked(address: "10.0.0.3", username: "alice"), "the owner elsewhere is not refused")
        #expect(throttle.delay(for: "alice") == .milliseconds(250), "but answered slowly")
        throttle.recordFailure(address: "10.0.0.2", username: "alice")
        #expect(throttle.delay(for: "alice") == .milliseconds(500), "slower with every failure")
        #expect(throttle.delay(for: "bob") == .zero, "other accounts are unaffected")
        throttle.recordSuccess(address: "10.0.0.3", username: "alice")
        #expect(throttle.delay(for: "alice") == .zero)
        throttle.recordFailure(address: "10.0.0.1", username: "carol")
        #expect(throttle.isBlocked(address: "10.0.0.1", username: "erin"), "three failures from one address")
        #expect(!throttle.isBlocked(address: "10.0.0.9", username: "erin"))
    }

    @Test func failuresExpireWithTheWindow() {
        let throttle = AuthenticationThrottle(window: 0, perAddress: 1, perAccount: 1)
        throttle.recordFailure(address: "10.0.0.1", username: "alice")
        #expect(!throttle.isBlocked(address: "10.0.0.1", username: "alice"))
    }

    @Test func onlyWrongCredentialsCountAsGuesses() throws {
        #expect(C2SConnectionHandler.isCredentialFailure(try Element(xml: "<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized/></failure>")))
        #expect(!C2SConnectionHandler.isCredentialFailure(try Element(xml: "<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><aborted/></failure>")))
        #expect(!C2SConnectionHandler.isCredentialFailure(try Element(xml: "<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><temporary-auth-failure/></failure>")))
    }

    @Test func ipv6AddressesCountByTheirPrefix() {
        #expect(AddressGrouping.key("2001:db8:1:2:aaaa::1", ipv6PrefixLength: 64) == AddressGrouping.key("2001:db8:1:2:bbbb::9", ipv6PrefixLength: 64))
        #expect(AddressGrouping.key("2001:db8:1:2::1", ipv6PrefixLength: 64) != AddressGrouping.key("2001:db8:1:3::1", ipv6PrefixLength: 64))
        #expect(AddressGrouping.key("2001:db8:1:2::1", ipv6PrefixLength: 128) != AddressGrouping.key("2001:db8:1:2::2", ipv6PrefixLength: 128))
        #expect(AddressGrouping.key("192.0.2.7", ipv6PrefixLength: 64) == "192.0.2.7")
        #expect(AddressGrouping.key("::ffff:192.0.2.7", ipv6PrefixLength: 64) == "192.0.2.7", "IPv4 through a dual-stack listener")
    }

    /// The attack of the hardening review: one wrong password and ten aborts from one address used to lock the
    /// account from everywhere. Now the owner logs in from another address at once.
    @Test func abortsFromOneAddressDoNotLockTheOwnerOut() async throws {
        let server = try await TestServer.start(storage: "memory") { $0.requireTLS = false }
        defer { Task { await server.stop() } }
        #expect(try await server.server.kernel.createAccount("owner", password: "right"))
        do {
            _ = try await SlowReaderTests.login(port: server.port, user: "owner", password: "wrong", receiveBuffer: 65_536)
            Issue.record("a wrong password logged in")
        } catch {}
        let initial = Base64.encode(Array("n,,n=owner,r=abcdefghijklmnop".utf8))
        let port = server.port
        let aborted = try await blocking {
            (0..<10).map { _ in
                guard let socket = try? Socket(port: port) else { return false }
                socket.send("<?xml version='1.0'?><stream:stream to='localhost' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>")
                _ = socket.readNow(until: "</stream:features>")
                socket.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-256'>\(initial)</auth>")
                _ = socket.readNow(until: "</challenge>")
                socket.send("<abort xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")
                return socket.readNow(until: "</failure>").contains("<aborted/>")
            }
        }
        #expect(aborted.allSatisfy { $0 })
        let (_, _, jid) = try await SlowReaderTests.login(port: server.port, user: "owner", password: "right", receiveBuffer: 65_536,
                                                    sourceAddress: "127.0.0.2")
        #expect(jid.bare.description == "owner@localhost")
    }
}

/// SCRAM tells nobody which accounts exist: a name without an account gets the same salt every time (also after
/// a restart) and the usual iteration count, as a real account does.
@Suite struct AccountEnumerationTests {
    /// The server-first-message's salt and iteration count for `user`.
    static func saltAndIterations(port: Int, user: String) async throws -> String {
        try await blocking { try saltAndIterationsBlocking(port: port, user: user) }
    }

    private static func saltAndIterationsBlocking(port: Int, user: String) throws -> String {
        let socket = try Socket(port: port)
        socket.send("<?xml version='1.0'?><stream:stream to='localhost' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>")
        _ = socket.readNow(until: "</stream:features>")
        socket.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-256'>\(Base64.encode(Array("n,,n=\(user),r=abcdefghijklmnop".utf8)))</auth>")
        let answer = socket.readNow(until: "</challenge>")
        guard let start = answer.range(of: "'>")?.upperBound ?? answer.range(of: "\">")?.upperBound,
              let end = answer.range(of: "</challenge>")?.lowerBound,
              let decoded = Base64.decode(String(answer[start..<end])) else { throw TestSetupError("no challenge: \(answer)") }
        let fields = String(decoding: decoded, as: UTF8.self).split(separator: ",")
        return fields.filter { $0.hasPrefix("s=") || $0.hasPrefix("i=") }.joined(separator: ",")
    }

    @Test func unknownNamesLookLikeAccounts() async throws {
        let server = try await TestServer.start { $0.requireTLS = false }
        #expect(try await server.server.kernel.createAccount("real", password: "pw"))
        let ghost = try await Self.saltAndIterations(port: server.port, user: "ghost")
        #expect(try await Self.saltAndIterations(port: server.port, user: "ghost") == ghost, "the same salt each time")
        #expect(ghost.hasSuffix(",i=4096"), "the usual iteration count: \(ghost)")
        #expect(try await Self.saltAndIterations(port: server.port, user: "other") != ghost, "but its own per name")
        let real = try await Self.saltAndIterations(port: server.port, user: "real")
        let restarted = try await server.restarted()
        defer { Task { await restarted.stop() } }
        #expect(try await Self.saltAndIterations(port: restarted.port, user: "ghost") == ghost, "after a restart too")
        #expect(try await Self.saltAndIterations(port: restarted.port, user: "real") == real)
    }
}
