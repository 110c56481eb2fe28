import NIOHTTP1
import Testing
import XMPPCore
@testable import XMPPServer

/// Who may scrape `/metrics`: with `metrics_token`, whoever sends it as a bearer token (from anywhere); without, only
/// this machine.
@Suite struct MetricsAccessTests {
    @Test func bearerTokenOrLoopback() {
        let token = "s3cret-token-0123456789"
        #expect(WebSite.metricsRefusal(authorization: nil, token: nil, fromLoopback: true) == nil)
        #expect(WebSite.metricsRefusal(authorization: nil, token: nil, fromLoopback: false)?.status == .forbidden)
        #expect(WebSite.metricsRefusal(authorization: "Bearer \(token)", token: token, fromLoopback: false) == nil)
        #expect(WebSite.metricsRefusal(authorization: nil, token: token, fromLoopback: true)?.status == .unauthorized,
                "with a token, loopback needs it too")
        #expect(WebSite.metricsRefusal(authorization: "Bearer \(token)x", token: token, fromLoopback: false)?.status == .unauthorized)
        #expect(WebSite.metricsRefusal(authorization: "Bearer s3cret", token: token, fromLoopback: false)?.status == .unauthorized)
        #expect(WebSite.metricsRefusal(authorization: "Basic \(token)", token: token, fromLoopback: false)?.status == .unauthorized)
        #expect(constantTimeEqual(Array("abc".utf8), Array("abc".utf8)) && !constantTimeEqual(Array("abc".utf8), Array("abd".utf8))
                && !constantTimeEqual(Array("ab".utf8), Array("abc".utf8)))
    }

    @Test func tokenIsCheckedWhenConfigured() throws {
        var configuration = ServerConfiguration()
        #expect(throws: ConfigFile.ParseError.self) { try ConfigFile.set("metrics_token", to: "short", in: &configuration) }
        try ConfigFile.set("metrics_token", to: "a-long-enough-token", in: &configuration)
        #expect(configuration.metricsToken == "a-long-enough-token")
    }
}
