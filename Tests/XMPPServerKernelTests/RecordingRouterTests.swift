import Testing
import XMPPCore
import XMPPKernelTestSupport
import XMPPServerKernel

/// The test fixture RecordingRouter: once its module is active, the kernel hands it what goes to remote domains,
/// and it keeps those stanzas in order instead of sending them.
@Suite struct RecordingRouterTests {
    @Test func itRecordsWhatTheKernelSendsToRemoteDomains() throws {
        let router = RecordingRouter()
        let kernel = try ServerKernel(configuration: KernelConfiguration(domain: "here.test"), storage: .inMemory(),
                                      modules: CoreModules.all + [router.module])
        #expect(kernel.remoteRouter as? RecordingRouter === router)
        for body in ["one", "two"] {
            router.send(try Element(xml: "<message xmlns='jabber:client' to='x@there.test'><body>\(body)</body></message>"),
                        to: try JID("x@there.test"), kernel: kernel)
        }
        #expect(router.sent.withLock { $0.map { $0.child("body")?.text } } == ["one", "two"])
    }
}
