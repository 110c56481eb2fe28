import XMPPCore

/// In-band registration (XEP-0077): create the account, change its password, cancel it — what
/// XMPPFramework's `registerWithPassword:` and the hand-built `jabber:iq:register` stanzas do.
///
/// ```swift
/// let registration = client.add(RegistrationModule())
/// try await registration.register()              // creates the configured JID and logs in
/// try await registration.changePassword(to: "n3w")
/// ```
public final class RegistrationModule: XMPPClientModule {
    /// The `jabber:iq:register` namespace.
    public static let namespace = "jabber:iq:register"

    private let client = ClientReference()

    /// Creates the module.
    public init() {}

    public func attached(to client: XMPPClient) {
        self.client.set(client)
    }

    /// Creates the configured account with its configured password over a secured stream before logging in,
    /// then logs in with it (the client is online afterwards).
    /// - Throws: ``XMPPClientError/registrationFailed(_:)`` with `conflict` when the username is taken and
    ///   `not-allowed` when the server does not allow registration.
    public func register() async throws {
        try await client.require().connect(registering: true)
    }

    /// Changes the logged-in account's password (XEP-0077 §3.3). Later logins, automatic reconnection
    /// included, use the new one.
    public func changePassword(to password: String) async throws {
        let client = try self.client.require()
        guard let jid = client.jid, let username = jid.localpart else { throw XMPPClientError.notConnected }
        let query = Element("query", namespace: Self.namespace, children: [
            .element(Element("username", namespace: Self.namespace, text: username)),
            .element(Element("password", namespace: Self.namespace, text: password)),
        ])
        try await client.query(query, type: .set, to: jid.domain)
        client.configuration.password = password
    }

    /// Deletes the logged-in account from the server (XEP-0077 §3.2). The server then ends the session; the
    /// client reports it as a requested disconnect, and does not reconnect.
    public func cancelAccount() async throws {
        let client = try self.client.require()
        guard let jid = client.jid else { throw XMPPClientError.notConnected }
        // The server ends the stream once the account is gone: that end is asked for, not a loss to reconnect after.
        client.markClosing()
        do {
            try await client.query(Element("query", namespace: Self.namespace,
                                           children: [.element(Element("remove", namespace: Self.namespace))]),
                                   type: .set, to: jid.domain)
        } catch XMPPClientError.notConnected {
            // The server may close the stream before its answer arrives (XEP-0077 §3.2): that is success.
        } catch {
            // Refused: the account and the session stay, and a later drop is a loss again.
            client.markClosing(false)
            throw error
        }
        await client.disconnect()
    }
}

