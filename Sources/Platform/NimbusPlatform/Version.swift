/// The version every executable reports with `--version`.
public enum NimbusVersion {
    public static let current = "0.1.0"
}
