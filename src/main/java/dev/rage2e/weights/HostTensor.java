package dev.rage2e.weights;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * A tensor in host memory as stored on disk: element type, shape and little-endian bytes. It is the
 * exchange format between file readers (safetensors, ONNX, TF bundles) and the tensor engine.
 */
public record HostTensor(DType dtype, long[] shape, ByteBuffer data) {

    public HostTensor {
        data = data.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        long n = numel(shape);
        if ((long) data.remaining() != n * dtype.bytes) {
            throw new IllegalArgumentException("tensor of shape " + Arrays.toString(shape) + " and dtype " + dtype
                    + " needs " + n * dtype.bytes + " bytes, got " + data.remaining());
        }
    }

    public static long numel(long[] shape) {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        return n;
    }

    public long numel() {
        return numel(shape);
    }

    public static HostTensor ofFloats(float[] values, long... shape) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(values);
        return new HostTensor(DType.F32, shape, b);
    }

    public static HostTensor ofLongs(long[] values, long... shape) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 8).order(ByteOrder.LITTLE_ENDIAN);
        b.asLongBuffer().put(values);
        return new HostTensor(DType.I64, shape, b);
    }

    /** Converts any floating dtype to float32 values (F16 and BF16 widened exactly). */
    public float[] toFloats() {
        int n = Math.toIntExact(numel());
        float[] out = new float[n];
        ByteBuffer b = data.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        switch (dtype) {
            case F32 -> b.asFloatBuffer().get(out);
            case F64 -> {
                for (int i = 0; i < n; i++) out[i] = (float) b.getDouble(i * 8);
            }
            case F16 -> {
                for (int i = 0; i < n; i++) out[i] = Half.toFloat(b.getShort(i * 2));
            }
            case BF16 -> {
                for (int i = 0; i < n; i++) out[i] = Float.intBitsToFloat((b.getShort(i * 2) & 0xffff) << 16);
            }
            default -> throw new IllegalStateException("not a floating tensor: " + dtype);
        }
        return out;
    }

    /** Same data as float32 (a no-op for F32). */
    public HostTensor asF32() {
        return dtype == DType.F32 ? this : ofFloats(toFloats(), shape);
    }

    /** float32 to BF16 by round-to-nearest-even, for writing compact checkpoints. */
    public HostTensor toBf16() {
        float[] f = toFloats();
        ByteBuffer b = ByteBuffer.allocate(f.length * 2).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : f) {
            int bits = Float.floatToRawIntBits(v);
            if (Float.isNaN(v)) {
                b.putShort((short) 0x7fc0);
            } else {
                int rounded = bits + 0x7fff + ((bits >>> 16) & 1);
                b.putShort((short) (rounded >>> 16));
            }
        }
        b.flip();
        return new HostTensor(DType.BF16, shape, b);
    }

    /** float32 to F16 (IEEE half, round to nearest). */
    public HostTensor toF16() {
        float[] f = toFloats();
        ByteBuffer b = ByteBuffer.allocate(f.length * 2).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : f) {
            b.putShort(Half.fromFloat(v));
        }
        b.flip();
        return new HostTensor(DType.F16, shape, b);
    }

    public long[] toLongs() {
        int n = Math.toIntExact(numel());
        long[] out = new long[n];
        ByteBuffer b = data.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        switch (dtype) {
            case I64 -> b.asLongBuffer().get(out);
            case I32 -> {
                for (int i = 0; i < n; i++) out[i] = b.getInt(i * 4);
            }
            default -> throw new IllegalStateException("not an integer tensor: " + dtype);
        }
        return out;
    }

    @Override
    public String toString() {
        return dtype + Arrays.toString(shape);
    }
}
