import Testing
@testable import XMPPServer

/// Failed-authentication throttling per address and per account.
@Suite struct AuthenticationThrottleTests {
    @Test func blocksTheAddressAndTheAccountSeparately() {
        let throttle = AuthenticationThrottle(window: 60, perAddress: 3, perAccount: 2)
        throttle.recordFailure(address: "10.0.0.1", username: "alice")
        #expect(!throttle.isBlocked(address: "10.0.0.1", username: "alice"))
        throttle.recordFailure(address: "10.0.0.2", username: "alice")
        #expect(throttle.isBlocked(address: "10.0.0.3", username: "alice"), "the account is locked from anywhere")
        #expect(!throttle.isBlocked(address: "10.0.0.1", username: "bob"), "other accounts are unaffected")
        throttle.recordSuccess(username: "alice")
        #expect(!throttle.isBlocked(address: "10.0.0.3", username: "alice"))
        throttle.recordFailure(address: "10.0.0.1", username: "carol")
        throttle.recordFailure(address: "10.0.0.1", username: "dave")
        #expect(throttle.isBlocked(address: "10.0.0.1", username: "erin"), "three failures from one address")
        #expect(!throttle.isBlocked(address: "10.0.0.9", username: "erin"))
    }

    @Test func failuresExpireWithTheWindow() {
        let throttle = AuthenticationThrottle(window: 0, perAddress: 1, perAccount: 1)
        throttle.recordFailure(address: "10.0.0.1", username: "alice")
        #expect(!throttle.isBlocked(address: "10.0.0.1", username: "alice"))
    }
}
