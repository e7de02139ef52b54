package dev.rage2e.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.rage2e.util.UserException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PrecisionTest {
    @AfterEach
    void backToFp32() {
        // the setting is process-wide: leave the test JVM in full fp32 for the parity tests
        Precision.setMatmulPrecision(Precision.HIGHEST);
    }

    @Test
    void setsAndReadsLibtorchsMatmulPrecisionThroughItsExportedSymbols() {
        Precision.setMatmulPrecision(Precision.MEDIUM);
        assertEquals(2, Precision.matmulPrecision());
        Precision.setMatmulPrecision(Precision.HIGHEST);
        assertEquals(0, Precision.matmulPrecision());
    }

    @Test
    void autoPicksBf16OnlyWithHardwareAndAMeasuredSpeedup() {
        CpuFlags zen3 = new CpuFlags("AMD EPYC", Set.of("avx2", "fma"));
        CpuFlags amx = new CpuFlags("Xeon", Set.of("avx512f", "avx512_bf16", "amx_bf16"));
        Roofline.Result fast = new Roofline.Result("k", 350, 870, 111, 459, 2e-3, 2, "t", 0.1);
        Roofline.Result same = new Roofline.Result("k", 120, 125, 130, 128, 0, 2, "t", 0.1);
        assertEquals(
                "fp32",
                Precision.resolve(Precision.Setting.AUTO, zen3, () -> {
                            throw new AssertionError("no bf16 hardware: nothing to measure");
                        })
                        .used());
        assertEquals(
                "bf16",
                Precision.resolve(Precision.Setting.AUTO, amx, () -> fast).used());
        assertEquals(
                "fp32",
                Precision.resolve(Precision.Setting.AUTO, amx, () -> same).used());
        // faster but identical products
        Roofline.Result noisy = new Roofline.Result("k", 104, 144, 129, 160, 0, 2, "t", 3.0);
        assertEquals(
                "fp32",
                Precision.resolve(Precision.Setting.AUTO, amx, () -> noisy).used());
        // measured on a Xeon with AVX512-BF16 and no AMX: "medium" ran fp32 kernels in another order (error 1e-6)
        CpuFlags avx512bf16 = new CpuFlags("Xeon", Set.of("avx512f", "avx512_bf16"));
        Roofline.Result reordered = new Roofline.Result("k", 325.7, 284.0, 324.4, 302.4, 1.07e-6, 2, "t", 1.4);
        Roofline.Result reorderedFaster = new Roofline.Result("k", 300, 400, 300, 400, 1.07e-6, 2, "t", 1.4);
        assertEquals(
                "fp32",
                Precision.resolve(Precision.Setting.AUTO, avx512bf16, () -> reordered)
                        .used());
        Precision.Decision d = Precision.resolve(Precision.Setting.AUTO, avx512bf16, () -> reorderedFaster);
        assertEquals("fp32", d.used());
        assertTrue(d.reason().contains("no bf16 kernel ran"), d.reason());
        assertEquals(
                "bf16",
                Precision.resolve(Precision.Setting.BF16, zen3, () -> same).used());
        assertEquals(
                "fp32",
                Precision.resolve(Precision.Setting.FP32, amx, () -> fast).used());
        assertThrows(UserException.class, () -> Precision.parse("fp16"));
        assertEquals(Precision.Setting.BF16, Precision.parse("BF16"));
    }

    @Test
    void cpuFlagsComeFromProcCpuinfo(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("cpuinfo");
        Files.writeString(
                f,
                "processor\t: 0\nmodel name\t: Test CPU\nflags\t\t: fpu avx2 fma avx512f "
                        + "avx512_bf16\n\nprocessor\t: 1\n"
                        + "model name\t: Test CPU\nflags\t\t: fpu avx2\n");
        CpuFlags c = CpuFlags.parse(f);
        assertEquals("Test CPU", c.model());
        assertTrue(c.hasBf16Matmul());
        assertEquals(Set.of("avx2", "fma", "avx512f", "avx512_bf16"), c.relevant());
    }

    @Test
    void bf16PrecisionChangesProductsOnlyWhereTheCpuHasBf16() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray a = m.randomNormal(new Shape(256, 256));
            NDArray b = m.randomNormal(new Shape(256, 256));
            Precision.setMatmulPrecision(Precision.HIGHEST);
            float[] hi = a.matMul(b).toFloatArray();
            Precision.setMatmulPrecision(Precision.MEDIUM);
            float[] lo = a.matMul(b).toFloatArray();
            double maxDiff = 0, scale = 0;
            for (int i = 0; i < hi.length; i++) {
                maxDiff = Math.max(maxDiff, Math.abs(hi[i] - lo[i]));
                scale = Math.max(scale, Math.abs(hi[i]));
            }
            if (CpuFlags.read().hasBf16Matmul()) {
                assertTrue(maxDiff / scale < 2e-2, "bf16 products within bf16 rounding: " + maxDiff / scale);
            } else {
                assertEquals(0.0, maxDiff, "without bf16 hardware libtorch keeps exact fp32 kernels under 'medium'");
            }
        }
    }

    @Test
    void trainerStateAndConfigRecordThePrecision() throws Exception {
        Precision.apply("fp32");
        dev.rage2e.train.TrainerState st = new dev.rage2e.train.TrainerState();
        String json = dev.rage2e.util.Json.write(st);
        assertTrue(json.contains("\"precision\":\"fp32\""), json);
        dev.rage2e.train.TrainerState back = dev.rage2e.util.Json.MAPPER.readValue(
                json.replace("\"fp32\"", "\"bf16\""), dev.rage2e.train.TrainerState.class);
        assertEquals("bf16", back.savedPrecision, "what the saving run used is kept when read back");
        dev.rage2e.train.TrainConfig c = new dev.rage2e.train.TrainConfig();
        assertEquals(Precision.Setting.AUTO, c.precision);
    }

    @Test
    void theTestJvmRunsFullFp32() {
        assertEquals("fp32", System.getProperty(Precision.FORCE_PROPERTY));
        assertEquals("fp32", Precision.apply("bf16").used());
        assertEquals(0, Precision.matmulPrecision());
    }
}
