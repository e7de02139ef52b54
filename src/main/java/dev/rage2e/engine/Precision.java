package dev.rage2e.engine;

import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.jna.Function;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Pointer;
import dev.rage2e.util.Choice;
import dev.rage2e.util.Json;
import dev.rage2e.util.UserException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * {@code --precision auto|fp32|bf16}: the precision of fp32 matrix products. Parameters, activations and
 * optimizer state stay fp32 either way; bf16 is libtorch's fp32-matmul precision "medium"
 * ({@code torch.set_float32_matmul_precision("medium")}), with which oneDNN computes fp32 matmuls in bf16
 * on CPUs that have AMX-BF16 or AVX512-BF16. DJL 0.36 cannot create bf16 arrays and has no binding for
 * this setting, so it is set through libtorch's exported C++ symbols with JNA, after DJL loaded libtorch.
 * The setting is process-wide (libtorch's global context): the trainer and its refresher share it.
 *
 * <p>{@code auto} picks bf16 only where the CPU has the hardware (/proc/cpuinfo flags {@code amx_bf16} or
 * {@code avx512_bf16}) and the cached {@link Roofline} says bf16 matmuls are measurably faster; otherwise
 * fp32. On a CPU without bf16 hardware libtorch keeps running fp32 kernels under "medium", so a forced
 * bf16 there changes nothing but is honoured (and reported).
 */
public final class Precision {
    /** bf16 must beat fp32 by this factor on the roofline matmul for auto to pick it (single runs move 5-10 %). */
    static final double AUTO_MIN_SPEEDUP = 1.15;
    /**
     * A bf16 product differs from the fp32 one by ~1e-3 of its largest entry (8-bit mantissas; 2.3e-3 measured on an
     * AMX Xeon); fp32 kernels that merely sum in another order differ by ~1e-6 (1.07e-6 measured on a Xeon with
     * AVX512-BF16 but no AMX, whose "medium" products came from fp32 kernels). Below this, no bf16 kernel ran.
     */
    static final double BF16_ENGAGED_MIN_ERROR = 1e-4;
    /** Overrides every request (the test JVM sets fp32 so HF parity tests compare full-fp32 math on any CPU). */
    public static final String FORCE_PROPERTY = "rag.precision.force";

    // at::Float32MatmulPrecision {HIGHEST, HIGH, MEDIUM}
    static final int HIGHEST = 0, MEDIUM = 2;
    private static final String GLOBAL_CONTEXT = "_ZN2at13globalContextEv";
    private static final String SET_PRECISION =
            "_ZN2at7Context25setFloat32MatmulPrecisionENS_22Float32MatmulPrecisionE";
    private static final String GET_PRECISION = "_ZNK2at7Context22float32MatmulPrecisionEv";

    /** What a user asks for; {@link #AUTO} decides per machine (see the class comment). */
    public enum Setting implements Choice {
        AUTO,
        FP32,
        BF16;

        @Override
        public String toString() {
            return label();
        }
    }

    /** What was asked, what runs, and why. */
    public record Decision(String requested, String used, String reason) {
        public ObjectNode toJson() {
            ObjectNode o = Json.MAPPER.createObjectNode();
            o.put("requested", requested);
            o.put("used", used);
            o.put("reason", reason);
            CpuFlags c = CpuFlags.read();
            o.put("cpu", c.model());
            o.set("cpu_flags", Json.MAPPER.valueToTree(c.relevant()));
            return o;
        }
    }

    private static volatile Decision current = new Decision("fp32", "fp32", "libtorch default (precision never set)");
    private static NativeLibrary torch;
    /** Whether this process ever set libtorch's matmul precision (until then it is libtorch's default, fp32). */
    private static boolean touched;

    private Precision() {}

    /** The setting labelled {@code p} (case-insensitive; null: auto). */
    public static Setting parse(String p) {
        if (p == null) return Setting.AUTO;
        try {
            return Choice.parse(Setting.class, "precision", p.toLowerCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new UserException("--precision " + p + " is invalid: expected " + Choice.labels(Setting.class));
        }
    }

    /** As {@link #apply(Setting)} for a label (e.g. the driver's choice sent to a Spark executor). */
    public static Decision apply(String requested) {
        return apply(parse(requested));
    }

    /** Resolves {@code requested} on this machine, applies it to libtorch and returns the decision. */
    public static synchronized Decision apply(Setting requested) {
        Setting req = requested == null ? Setting.AUTO : requested;
        String forced = System.getProperty(FORCE_PROPERTY);
        Decision d = forced != null && !forced.isBlank()
                ? new Decision(
                        req.label(),
                        parse(forced) == Setting.BF16 ? "bf16" : "fp32",
                        "forced by -D" + FORCE_PROPERTY + "=" + forced)
                : resolve(req, CpuFlags.read(), () -> Roofline.cachedOrMeasure(false, System.err));
        try {
            // fp32 is libtorch's default: only call into it (JNA, which unpacks a native stub to a temp file and so
            // fails on a full disk) when bf16 is wanted or was set before
            if (d.used().equals("bf16") || touched) setMatmulPrecision(d.used().equals("bf16") ? MEDIUM : HIGHEST);
        } catch (RuntimeException | LinkageError e) {
            // fp32 is libtorch's default, so a libtorch without these symbols (or no /proc) still runs fp32
            if (d.used().equals("bf16"))
                throw new UserException("--precision bf16: cannot set libtorch's matmul precision: " + e.getMessage());
            d = new Decision(d.requested(), "fp32", d.reason() + "; libtorch default kept (" + e.getMessage() + ")");
        }
        current = d;
        return d;
    }

    /**
     * The choice for {@code requested} on a CPU with {@code cpu}'s flags; {@code roofline} is asked only
     * when auto has bf16 hardware to consider (measuring costs seconds).
     */
    static Decision resolve(Setting setting, CpuFlags cpu, java.util.function.Supplier<Roofline.Result> roofline) {
        String req = setting.label();
        switch (setting) {
            case FP32:
                return new Decision(req, "fp32", "requested");
            case BF16:
                return new Decision(
                        req,
                        "bf16",
                        cpu.hasBf16Matmul()
                                ? "requested"
                                : "requested; this CPU has no amx_bf16/avx512_bf16, libtorch keeps fp32 kernels");
            default:
                if (!cpu.hasBf16Matmul())
                    return new Decision(req, "fp32", "auto: no amx_bf16 or avx512_bf16 in /proc/cpuinfo");
                Roofline.Result r = roofline.get();
                double speedup = r.bf16Gflops() / r.fp32Gflops();
                // products as close as fp32's mean libtorch ran its fp32 kernels: any "speedup" is then noise
                boolean engaged = r.bf16MaxRelError() >= BF16_ENGAGED_MIN_ERROR;
                return new Decision(
                        req,
                        engaged && speedup >= AUTO_MIN_SPEEDUP ? "bf16" : "fp32",
                        String.format(
                                Locale.ROOT,
                                "auto: CPU has bf16 matmul; roofline bf16/fp32 = %.2f (bf16 needs >= %.2f)%s",
                                speedup,
                                AUTO_MIN_SPEEDUP,
                                engaged ? "" : ", but bf16-precision products match fp32 ones (no bf16 kernel ran)"));
        }
    }

    /** {@link #apply} and one line on stderr saying what runs and why (only when it changes). */
    public static synchronized Decision applyAndLog(Setting requested) {
        Decision before = current;
        Decision d = apply(requested);
        if (!d.equals(before)) System.err.println("rag: precision " + d.used() + " (" + d.reason() + ")");
        return d;
    }

    /** The decision in force (fp32 "never set" until {@link #apply} ran). */
    public static Decision current() {
        return current;
    }

    /** Sets libtorch's fp32 matmul precision without a decision record (the roofline measures both). */
    static synchronized void setMatmulPrecision(int level) {
        touched = true;
        NativeLibrary lib = torch();
        Pointer ctx = lib.getFunction(GLOBAL_CONTEXT).invokePointer(new Object[0]);
        lib.getFunction(SET_PRECISION).invokeVoid(new Object[] {ctx, level});
        int now = matmulPrecision();
        if (now != level)
            throw new IllegalStateException("libtorch kept fp32 matmul precision " + now + " after setting " + level);
    }

    /** libtorch's current fp32 matmul precision: 0 highest, 1 high, 2 medium. */
    public static synchronized int matmulPrecision() {
        NativeLibrary lib = torch();
        Pointer ctx = lib.getFunction(GLOBAL_CONTEXT).invokePointer(new Object[0]);
        // the enum is returned in eax; mask in case the compiler gave it a narrower underlying type
        return lib.getFunction(GET_PRECISION).invokeInt(new Object[] {ctx}) & 0xff;
    }

    /** The libtorch_cpu.so DJL loaded (found in this process's memory map, so it is that copy, not another). */
    static NativeLibrary torch() {
        if (torch != null) return torch;
        ai.djl.engine.Engine.getEngine("PyTorch"); // loads libtorch
        Path path = null;
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/maps"))) {
                int i = line.indexOf('/');
                if (i >= 0 && line.endsWith("libtorch_cpu.so")) {
                    path = Path.of(line.substring(i));
                    break;
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot read /proc/self/maps to find libtorch_cpu.so", e);
        }
        if (path == null) throw new IllegalStateException("libtorch_cpu.so is not loaded in this process");
        torch = NativeLibrary.getInstance(path.toString());
        Function f = torch.getFunction(SET_PRECISION); // fail early if the symbol is missing
        if (f == null) throw new IllegalStateException("no " + SET_PRECISION + " in " + path);
        return torch;
    }
}
