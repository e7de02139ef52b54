package dev.rage2e.cli;

import dev.rage2e.engine.Precision;
import picocli.CommandLine.Option;

/** {@code --precision auto|fp32|bf16} for every command that runs models (see {@link Precision}). */
public final class PrecisionOption {
    @Option(
            names = "--precision",
            defaultValue = "auto",
            description = "Matrix-math precision: auto (bf16 where "
                    + "the CPU has "
                    + "AMX-BF16/AVX512-BF16 and it measures faster, else fp32), fp32 or bf16 (default "
                    + "${DEFAULT-VALUE}).")
    public Precision.Setting precision = Precision.Setting.AUTO;

    /** Applies the setting to libtorch and prints the decision on stderr (one line). */
    public Precision.Decision apply() {
        return Precision.applyAndLog(precision);
    }
}
