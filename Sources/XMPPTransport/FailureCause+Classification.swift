import NIOCore
import NIOPosix
import NIOSSL
import XMPPCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension FailureCause {
    /// Why opening a TCP connection to `host`:`port` failed, from the error NIO reported.
    public static func connecting(to host: String, port: Int, error: any Error) -> FailureCause {
        let place = "\(host):\(port)"
        let underlying = "\(error)"
        if let failure = error as? NIOConnectionError {
            // Every address failed: the first connect error says why (they share a cause on loopback and most LANs).
            if let first = failure.connectionErrors.first {
                return connecting(to: host, port: port, error: first.error)
            }
            if failure.dnsAError != nil || failure.dnsAAAAError != nil {
                return FailureCause(.unknownHost, "\(host) has no address (DNS lookup failed)", underlying: underlying)
            }
            return FailureCause(.unknownHost, "\(host) has no address", underlying: underlying)
        }
        if let channelError = error as? ChannelError, case .connectTimeout = channelError {
            return FailureCause(.timedOut, "\(place) did not answer in time", underlying: underlying)
        }
        if let io = error as? IOError {
            switch io.errnoCode {
            case ECONNREFUSED:
                return FailureCause(.refused, "nothing accepts connections at \(place)", underlying: underlying)
            case ETIMEDOUT:
                return FailureCause(.timedOut, "\(place) did not answer in time", underlying: underlying)
            case ENETUNREACH, EHOSTUNREACH, EADDRNOTAVAIL, ENETDOWN:
                return FailureCause(.unreachable, "\(place) cannot be reached from this machine", underlying: underlying)
            case ECONNRESET:
                return FailureCause(.refused, "\(place) reset the connection", underlying: underlying)
            default:
                break
            }
        }
        if error is SocketAddressError {
            return FailureCause(.unknownHost, "\(host) has no address", underlying: underlying)
        }
        return FailureCause(.other, "cannot connect to \(place)", underlying: underlying)
    }

    /// Why TLS failed, from the error NIOSSL (or BoringSSL) reported; `domain` is the name the certificate must carry.
    public static func tls(_ error: any Error, domain: String) -> FailureCause {
        let underlying = "\(error)"
        if let extra = error as? NIOSSLExtraError, extra == .failedToValidateHostname {
            return FailureCause(.certificateNameMismatch, "the server's certificate is not for \(domain)", underlying: underlying)
        }
        // BoringSSL reports a failed chain check only as text ("CERTIFICATE_VERIFY_FAILED"), without the reason.
        if underlying.contains("CERTIFICATE_VERIFY_FAILED") {
            return FailureCause(.untrustedCertificate,
                                "the server's certificate is not trusted (self-signed, from an unknown authority, or expired)",
                                underlying: underlying)
        }
        if let sslError = error as? NIOSSLError {
            switch sslError {
            case .failedToLoadCertificate, .failedToLoadPrivateKey:
                return FailureCause(.localConfiguration, "the CA certificates could not be loaded", underlying: underlying)
            case .uncleanShutdown:
                return FailureCause(.handshake, "the server closed the connection during the TLS handshake", underlying: underlying)
            default:
                break
            }
        }
        if underlying.contains("WRONG_VERSION_NUMBER") || underlying.contains("PACKET_LENGTH_TOO_LONG") {
            return FailureCause(.handshake, "the server did not answer with TLS (is this a STARTTLS port?)", underlying: underlying)
        }
        return FailureCause(.handshake, "the TLS handshake failed", underlying: underlying)
    }
}
