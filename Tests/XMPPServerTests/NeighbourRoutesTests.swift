import NIOCore
import NIOPosix
import Testing
import XMPPCore
@testable import XMPPServer
import XMPPServerKernel

/// The in-process route between two domains of one server (virtual hosts): in order, and bounded.
@Suite struct NeighbourRoutesTests {
    private static func kernels() throws -> (alpha: ServerKernel, beta: ServerKernel) {
        (try ServerKernel(configuration: KernelConfiguration(domain: "alpha.test"), storage: .inMemory(), modules: CoreModules.all),
         try ServerKernel(configuration: KernelConfiguration(domain: "beta.test"), storage: .inMemory(), modules: CoreModules.all))
    }

    private static func message(_ number: Int) throws -> Element {
        try Element(xml: "<message xmlns='jabber:client' type='chat' from='alice@alpha.test/phone' to='bob@beta.test'><body>\(number)</body></message>")
    }

    @Test func stanzasArriveInTheOrderSentAndTheRouteHoldsOnlyItsLimit() async throws {
        let (alpha, beta) = try Self.kernels()
        _ = try await beta.storage.accounts.createAccount("bob", credentials: SCRAMCredentials.allHashes(password: "pw", iterations: 10))
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { group.shutdownGracefully { _ in } }
        let routes = NeighbourRoutes(kernels: [alpha, beta], group: group, limit: 3)
        #expect(routes.neighbour(serving: "beta.test", besides: alpha) === beta)
        #expect(routes.neighbour(serving: "alpha.test", besides: alpha) == nil, "a domain is not its own neighbour")
        #expect(routes.neighbour(serving: "elsewhere.test", besides: alpha) == nil)
        let route = Route(local: "alpha.test", remote: "beta.test")
        let (from, to) = (try JID("alice@alpha.test/phone"), try JID("bob@beta.test"))
        // Four at once from the route's event loop, before any is handled: the fourth is refused (the caller bounces it).
        let admitted = try await group.next().submit {
            try (1...4).map { routes.deliver(try Self.message($0), from: from, to: to, route: route, neighbour: beta) }
        }.get()
        #expect(admitted == [true, true, true, false])
        // Then many, one after another: bob (offline) finds them stored in the order sent.
        for number in 4...40 {
            while !routes.deliver(try Self.message(number), from: from, to: to, route: route, neighbour: beta) { try await Task.sleep(for: .milliseconds(1)) }
        }
        var stored: [String] = []
        for _ in 0..<500 where stored.count < 40 {
            try await Task.sleep(for: .milliseconds(10))
            stored = try await beta.storage.offline.pending(for: "bob").compactMap { $0.element.child("body")?.text }
        }
        #expect(stored == (1...40).map(String.init))
        #expect(routes.laneCount == 0, "a sender's lane goes once its stanzas are done")
    }
}
