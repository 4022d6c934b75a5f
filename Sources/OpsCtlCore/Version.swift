/// opsctl's own version (the server's is in `opsctl context`, `deploy.version`).
public enum OpsCtlVersion {
    public static let string = "0.1.0"
}
