package dev.rage2e.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.rage2e.util.UserException;
import dev.rage2e.weights.HostTensor;
import dev.rage2e.weights.Safetensors;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeSet;

/**
 * Named parameters of one model, keyed by their Hugging Face names, living in one long-lived
 * NDManager. Modules fetch their weights with {@link #get(String, long...)}, which checks the shape the
 * config implies, so "config does not match weights" is reported by tensor name.
 */
public final class ParamStore implements AutoCloseable {
    private final NDManager manager;
    private final Map<String, NDArray> params = new LinkedHashMap<>();
    private final Map<String, HostTensor> source;
    private final String origin;
    private final TreeSetTracker used = new TreeSetTracker();
    private final java.util.Set<String> buffers = java.util.concurrent.ConcurrentHashMap.newKeySet();

    private ParamStore(NDManager manager, Map<String, HostTensor> source, String origin) {
        this.manager = manager;
        this.source = source;
        this.origin = origin;
    }

    /** Loads lazily: tensors become NDArrays (float32) when a module asks for them. */
    public static ParamStore fromHost(NDManager parent, Map<String, HostTensor> tensors, String origin) {
        return new ParamStore(parent.newSubManager(), new LinkedHashMap<>(tensors), origin);
    }

    public static ParamStore load(NDManager parent, Path safetensors) {
        return fromHost(parent, Safetensors.read(safetensors), safetensors.toString());
    }

    /** An empty store whose parameters are created by {@link #create}. */
    public static ParamStore empty(NDManager parent, String origin) {
        return new ParamStore(parent.newSubManager(), new LinkedHashMap<>(), origin);
    }

    public NDManager manager() {
        return manager;
    }

    public String origin() {
        return origin;
    }

    public boolean has(String name) {
        return params.containsKey(name) || source.containsKey(name);
    }

    /** The parameter {@code name} with exactly {@code shape}, or a clear error naming it. */
    public NDArray get(String name, long... shape) {
        NDArray a = params.get(name);
        if (a == null) {
            HostTensor t = source.get(name);
            if (t == null) {
                throw new UserException(
                        origin + ": missing tensor '" + name + "' (expected shape " + Arrays.toString(shape) + ")");
            }
            if (!t.dtype().name().startsWith("F") && t.dtype() != dev.rage2e.weights.DType.BF16) {
                throw new UserException(
                        origin + ": tensor '" + name + "' has dtype " + t.dtype() + ", expected a float type");
            }
            a = toNd(manager, t.asF32());
            a.setName(name);
            params.put(name, a);
        }
        if (shape.length > 0 && !Arrays.equals(a.getShape().getShape(), shape)) {
            throw new UserException(origin + ": tensor '" + name + "' has "
                    + "shape " + Arrays.toString(a.getShape().getShape())
                    + " but the config implies " + Arrays.toString(shape));
        }
        used.add(name);
        return a;
    }

    /**
     * A tensor that is loaded and saved with the model but not trained (HF registers such tensors as
     * buffers, e.g. BART's {@code final_logits_bias}, or keeps weights the forward pass never uses, e.g.
     * an encoder-decoder's encoder pooler). It is absent from {@link #parameters()}, present in {@link #toHost()}.
     */
    public NDArray buffer(String name, long... shape) {
        buffers.add(name);
        return get(name, shape);
    }

    /** Creates (or replaces) a parameter, e.g. freshly initialised cross-attention. */
    public NDArray create(String name, NDArray value) {
        NDArray a = value.toType(DataType.FLOAT32, true);
        a.attach(manager);
        a.setName(name);
        NDArray old = params.put(name, a);
        if (old != null && old != a) old.close();
        used.add(name);
        return a;
    }

    /** Parameters that modules have fetched, in fetch order: the model's trainable state (buffers excluded). */
    public Map<String, NDArray> parameters() {
        Map<String, NDArray> out = new LinkedHashMap<>();
        for (String n : used.names()) if (!buffers.contains(n)) out.put(n, params.get(n));
        return out;
    }

    /** Parameters and buffers: everything a checkpoint holds. */
    public Map<String, NDArray> tensors() {
        Map<String, NDArray> out = new LinkedHashMap<>();
        for (String n : used.names()) out.put(n, params.get(n));
        return out;
    }

    /** Names present in the file that no module used (e.g. a pre-training head). */
    public TreeSet<String> unusedSourceNames() {
        TreeSet<String> s = new TreeSet<>(source.keySet());
        s.removeAll(used.names());
        return s;
    }

    public void setRequiresGradient(boolean requires) {
        for (NDArray a : parameters().values()) a.setRequiresGradient(requires);
    }

    /** Host copies of every used parameter and buffer, for saving. Tied weights appear once, under the name used. */
    public Map<String, HostTensor> toHost() {
        Map<String, HostTensor> out = new LinkedHashMap<>();
        for (Map.Entry<String, NDArray> e : tensors().entrySet()) {
            out.put(e.getKey(), toHost(e.getValue()));
        }
        return out;
    }

    public void save(Path file, Map<String, String> metadata) throws IOException {
        Safetensors.write(file, toHost(), metadata);
    }

    /** Copies every used parameter's and buffer's values from {@code other} (same names and shapes). */
    public void copyFrom(ParamStore other) {
        for (Map.Entry<String, NDArray> e : tensors().entrySet()) {
            NDArray src = other.params.get(e.getKey());
            if (src == null) throw new IllegalArgumentException("no parameter " + e.getKey() + " to copy from");
            src.copyTo(e.getValue());
        }
    }

    public static NDArray toNd(NDManager m, HostTensor t) {
        ByteBuffer b = m.allocateDirect(t.data().remaining()).order(ByteOrder.nativeOrder());
        if (ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN) {
            b.put(t.data().duplicate());
        } else {
            throw new UnsupportedOperationException("big-endian hosts are not supported");
        }
        b.rewind();
        DataType dt = switch (t.dtype()) {
            case F32 -> DataType.FLOAT32;
            case F64 -> DataType.FLOAT64;
            case I64 -> DataType.INT64;
            case I32 -> DataType.INT32;
            case F16 -> DataType.FLOAT16;
            case U8, BOOL -> DataType.UINT8;
            case I8 -> DataType.INT8;
            case BF16 -> DataType.BFLOAT16;
        };
        return m.create(b, new Shape(t.shape()), dt);
    }

    public static HostTensor toHost(NDArray a) {
        NDArray f = a.getDataType() == DataType.FLOAT32 ? a : a.toType(DataType.FLOAT32, false);
        float[] v = f.toFloatArray();
        return HostTensor.ofFloats(v, a.getShape().getShape());
    }

    @Override
    public void close() {
        manager.close();
    }

    /** Insertion-ordered set of used names. */
    private static final class TreeSetTracker {
        private final java.util.LinkedHashSet<String> names = new java.util.LinkedHashSet<>();

        synchronized void add(String n) {
            names.add(n);
        }

        synchronized java.util.List<String> names() {
            return java.util.List.copyOf(names);
        }
    }
}
