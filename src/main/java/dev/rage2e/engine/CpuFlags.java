package dev.rage2e.engine;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;

/** The CPU model and the instruction-set flags that decide matmul precision, from /proc/cpuinfo (Linux). */
public record CpuFlags(String model, Set<String> flags) {
    /** Flags worth reporting beside a measurement: what the matmul kernels can use. */
    static final String[] REPORTED = {
        "avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile", "avx512_vnni", "amx_int8"
    };

    private static volatile CpuFlags cached;

    public static CpuFlags read() {
        CpuFlags c = cached;
        if (c == null) cached = c = parse(Path.of("/proc/cpuinfo"));
        return c;
    }

    static CpuFlags parse(Path cpuinfo) {
        String model = System.getProperty("os.arch");
        Set<String> flags = new TreeSet<>();
        try {
            for (String line : Files.readAllLines(cpuinfo)) {
                int colon = line.indexOf(':');
                if (colon < 0) continue;
                String key = line.substring(0, colon).trim();
                String val = line.substring(colon + 1).trim();
                if (key.equals("model name") && model.equals(System.getProperty("os.arch"))) model = val;
                if (key.equals("flags") && flags.isEmpty()) for (String f : val.split("\\s+")) flags.add(f);
            }
        } catch (IOException | RuntimeException e) {
            // not Linux or unreadable: no flags, so auto never picks bf16
        }
        return new CpuFlags(model, flags);
    }

    /** Whether the CPU has hardware bf16 matrix math (oneDNN's bf16 fp32-matmul path needs one of these). */
    public boolean hasBf16Matmul() {
        return flags.contains("amx_bf16") || flags.contains("avx512_bf16");
    }

    /** The reported subset, e.g. {@code [avx2, fma]} on AMD Zen 3. */
    public Set<String> relevant() {
        Set<String> out = new TreeSet<>();
        for (String f : REPORTED) if (flags.contains(f)) out.add(f);
        return out;
    }
}
