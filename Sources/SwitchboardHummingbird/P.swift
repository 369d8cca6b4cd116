import Hummingbird
import HummingbirdWebSocket
import HummingbirdWSCompression
import HummingbirdWSClient
import ServiceLifecycle
public enum _P2 {}
