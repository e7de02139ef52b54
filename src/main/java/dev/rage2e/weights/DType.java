package dev.rage2e.weights;

/** Element types a safetensors file may hold that rag-e2e reads and writes. */
public enum DType {
    F32(4),
    F16(2),
    BF16(2),
    I64(8),
    I32(4),
    F64(8),
    U8(1),
    I8(1),
    BOOL(1);

    public final int bytes;

    DType(int bytes) {
        this.bytes = bytes;
    }

    public static DType parse(String name) {
        try {
            return DType.valueOf(name);
        } catch (IllegalArgumentException e) {
            return null;
        }
    }
}
