import Testing
import XMPPCore
@testable import XMPPServerKernel
import XMPPKernelTestSupport

/// An offline store whose writes wait until the test lets them finish: the order of a slow write and a login is the
/// test's to choose.
final class GatedOfflineStore: OfflineStore {
    private let base: any OfflineStore
    private let gate = Locked<(entered: Bool, release: CheckedContinuation<Void, Never>?, open: Bool)>((false, nil, false))

    init(_ base: any OfflineStore) {
        self.base = base
    }

    /// Whether a write is waiting at the gate.
    var isWriteWaiting: Bool { gate.withLock { $0.entered } }

    /// Lets the waiting write (and every later one) through.
    func open() {
        let waiting = gate.withLock { state -> CheckedContinuation<Void, Never>? in
            state.open = true
            defer { state.release = nil }
            return state.release
        }
        waiting?.resume()
    }

    func store(_ message: Element, for user: String, limit: Int, byteLimit: Int) async throws -> Bool {
        await withCheckedContinuation { continuation in
            let passes = gate.withLock { state -> Bool in
                state.entered = true
                if state.open { return true }
                state.release = continuation
                return false
            }
            if passes { continuation.resume() }
        }
        return try await base.store(message, for: user, limit: limit, byteLimit: byteLimit)
    }

    func pending(for user: String) async throws -> [OfflineMessage] { try await base.pending(for: user) }
    func remove(_ ids: [Int64], for user: String) async throws { try await base.remove(ids, for: user) }
    func count(for user: String) async throws -> Int { try await base.count(for: user) }
    func removeAll(for user: String) async throws { try await base.removeAll(for: user) }
}

@Suite struct OfflineDeliveryRaceTests {
    /// The routing found no available resource and began storing; meanwhile the account came online and its login read
    /// the (still empty) store. The message must still reach it in this session, not at the next login.
    @Test func aMessageStoredWhileTheAccountComesOnlineIsDelivered() async throws {
        var storage = ServerStorage.inMemory()
        let gated = GatedOfflineStore(storage.offline)
        storage.offline = gated
        let scenario = try KernelScenario(storage: storage)
        try await scenario.account("alice"); try await scenario.account("bob")
        let alice = try await scenario.login("alice")
        let bob = try await scenario.login("bob", available: false)

        let sending = Task { try await alice.send("<message xmlns='jabber:client' to='bob@example.com' type='chat' id='m1'><body>hi</body></message>") }
        for _ in 0..<500 where !gated.isWriteWaiting { try await Task.sleep(for: .milliseconds(10)) }
        try #require(gated.isWriteWaiting, "the message went to the offline store")
        try await bob.send("<presence xmlns='jabber:client'/>")
        #expect(bob.received("message").isEmpty, "nothing stored yet when bob's login read the store")

        gated.open()
        try await sending.value
        var bodies: [String] = []
        for _ in 0..<300 where bodies.isEmpty {
            bodies = bob.received("message").compactMap { $0.child("body")?.text }
            if bodies.isEmpty { try await Task.sleep(for: .milliseconds(10)) }
        }
        #expect(bodies == ["hi"])
        #expect(try await scenario.kernel.storage.offline.count(for: "bob") == 0, "delivered, so no longer stored")
    }
}
