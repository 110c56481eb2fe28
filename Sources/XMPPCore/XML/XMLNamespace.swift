/// Namespace URIs of the XML and XMPP core specifications.
///
/// Feature namespaces live beside the payloads that use them; these are the ones the wire core itself needs.
public enum XMLNamespace {
    /// The namespace bound to the `xml` prefix (XML Namespaces §3), used by `xml:lang`.
    public static let xml = "http://www.w3.org/XML/1998/namespace"
    /// The reserved namespace of `xmlns` declarations.
    public static let xmlns = "http://www.w3.org/2000/xmlns/"
    /// The stream namespace, bound to the `stream` prefix (RFC 6120 §4.8.1).
    public static let streams = "http://etherx.jabber.org/streams"
    /// `urn:ietf:params:xml:ns:xmpp-framing`: `<open/>` and `<close/>` of XMPP over WebSocket (RFC 7395).
    public static let framing = "urn:ietf:params:xml:ns:xmpp-framing"
    /// Default content namespace of client-to-server streams (RFC 6120 §4.8.3).
    public static let client = "jabber:client"
    /// Default content namespace of server-to-server streams (RFC 6120 §4.8.3).
    public static let server = "jabber:server"
    /// Server dialback (XEP-0220), declared as the `db:` prefix on server-to-server streams.
    public static let dialback = "jabber:server:dialback"
    /// Default content namespace of component streams (XEP-0114).
    public static let component = "jabber:component:accept"
    /// Stream error conditions (RFC 6120 §4.9.3).
    public static let streamErrors = "urn:ietf:params:xml:ns:xmpp-streams"
    /// Stanza error conditions (RFC 6120 §8.3.3).
    public static let stanzaErrors = "urn:ietf:params:xml:ns:xmpp-stanzas"
    /// STARTTLS negotiation (RFC 6120 §5).
    public static let tls = "urn:ietf:params:xml:ns:xmpp-tls"
    /// SASL negotiation (RFC 6120 §6).
    public static let sasl = "urn:ietf:params:xml:ns:xmpp-sasl"
    /// Resource binding (RFC 6120 §7).
    public static let bind = "urn:ietf:params:xml:ns:xmpp-bind"
    /// The legacy session establishment feature (RFC 3921, kept optional by RFC 6121 appendix E).
    public static let session = "urn:ietf:params:xml:ns:xmpp-session"
}
