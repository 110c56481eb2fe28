import Crypto
import SwiftASN1
import X509
import XMPPCore

extension ChannelBinding {
    /// The tls-server-end-point binding (RFC 5929 §4.1) of a server certificate: its hash with the
    /// certificate's own signature hash, but SHA-256 in place of MD5, SHA-1 or an unknown one. The server
    /// computes it over its own certificate, the client over the one it received; SCRAM-PLUS compares them.
    public static func tlsServerEndPoint(certificateDER der: [UInt8]) -> ChannelBinding {
        let algorithm = (try? Certificate(derEncoded: der))?.signatureAlgorithm
        let digest: [UInt8]
        switch algorithm {
        case .some(.ecdsaWithSHA384), .some(.sha384WithRSAEncryption): digest = Array(SHA384.hash(data: der))
        case .some(.ecdsaWithSHA512), .some(.sha512WithRSAEncryption): digest = Array(SHA512.hash(data: der))
        default: digest = Array(SHA256.hash(data: der))
        }
        return ChannelBinding(type: .tlsServerEndPoint, data: digest)
    }
}
