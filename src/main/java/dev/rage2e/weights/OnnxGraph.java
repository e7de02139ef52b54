package dev.rage2e.weights;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedInputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.WireFormat;
import dev.rage2e.util.UserException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The parts of an ONNX {@code ModelProto} that hold weights and wiring: the graph's initializers,
 * its nodes (op, inputs, outputs, attributes) and the tensors of {@code Constant} nodes. Parsed
 * field by field with protobuf's {@link CodedInputStream}, so no generated ONNX classes are needed.
 * Field numbers are those of onnx.proto (ModelProto.graph = 7, GraphProto.node = 1 / initializer = 5, ...).
 */
public final class OnnxGraph {
    /** ONNX TensorProto.DataType values this reader turns into host tensors. */
    private static final int FLOAT = 1,
            UINT8 = 2,
            INT8 = 3,
            INT32 = 6,
            INT64 = 7,
            BOOL = 9,
            FLOAT16 = 10,
            DOUBLE = 11,
            BFLOAT16 = 16;

    public record Node(
            String name, String opType, List<String> inputs, List<String> outputs, Map<String, Attribute> attributes) {
        public Attribute attr(String key) {
            return attributes.get(key);
        }
    }

    /** One attribute; only the field its type uses is meaningful. */
    public record Attribute(
            String name, float f, long i, ByteString s, HostTensor t, List<Long> ints, List<Float> floats) {}

    public final Map<String, HostTensor> initializers = new LinkedHashMap<>();
    public final List<Node> nodes = new ArrayList<>();
    public final List<String> inputs = new ArrayList<>();
    public final List<String> outputs = new ArrayList<>();
    private final Map<String, Node> producers = new HashMap<>();
    private final Map<String, List<Node>> consumers = new HashMap<>();
    private final String origin;

    private OnnxGraph(String origin) {
        this.origin = origin;
    }

    public String origin() {
        return origin;
    }

    /** Parses a serialized ModelProto; {@code origin} names the file in error messages. */
    public static OnnxGraph parse(byte[] model, String origin) {
        OnnxGraph g = new OnnxGraph(origin);
        try {
            CodedInputStream in = CodedInputStream.newInstance(model);
            in.setSizeLimit(Integer.MAX_VALUE);
            boolean sawGraph = false;
            while (true) {
                int tag = in.readTag();
                if (tag == 0) break;
                if (WireFormat.getTagFieldNumber(tag) == 7
                        && WireFormat.getTagWireType(tag) == WireFormat.WIRETYPE_LENGTH_DELIMITED) {
                    int limit = in.pushLimit(in.readRawVarint32());
                    g.readGraph(in);
                    in.popLimit(limit);
                    sawGraph = true;
                } else {
                    in.skipField(tag);
                }
            }
            if (!sawGraph) throw new UserException(origin + ": not an ONNX model (no graph in the ModelProto)");
        } catch (InvalidProtocolBufferException e) {
            throw new UserException(origin + ": corrupt or truncated ONNX model: " + e.getMessage(), e);
        } catch (IOException e) {
            throw new UserException(origin + ": cannot read ONNX model: " + e.getMessage(), e);
        } catch (IllegalArgumentException e) {
            throw new UserException(origin + ": corrupt ONNX model: " + e.getMessage(), e);
        }
        for (Node n : g.nodes) {
            for (String o : n.outputs) g.producers.put(o, n);
            for (String i : n.inputs)
                g.consumers.computeIfAbsent(i, k -> new ArrayList<>()).add(n);
        }
        return g;
    }

    /** The node whose output is {@code value}, or null (graph input or initializer). */
    public Node producer(String value) {
        return producers.get(value);
    }

    public List<Node> consumers(String value) {
        return consumers.getOrDefault(value, List.of());
    }

    /**
     * The constant behind {@code value}: an initializer or a {@code Constant} node's tensor, looking
     * through {@code Identity}. Null when the value is computed at run time.
     */
    public HostTensor constant(String value) {
        HostTensor t = initializers.get(value);
        if (t != null) return t;
        Node p = producers.get(value);
        if (p == null) return null;
        if (p.opType.equals("Constant") && p.attr("value") != null)
            return p.attr("value").t();
        if (p.opType.equals("Identity")) return constant(p.inputs.get(0));
        return null;
    }

    private void readGraph(CodedInputStream in) throws IOException {
        while (true) {
            int tag = in.readTag();
            if (tag == 0) return;
            int field = WireFormat.getTagFieldNumber(tag);
            if (WireFormat.getTagWireType(tag) != WireFormat.WIRETYPE_LENGTH_DELIMITED) {
                in.skipField(tag);
                continue;
            }
            switch (field) {
                case 1 -> nodes.add(readNode(in.readBytes()));
                case 5 -> {
                    Tensor t = readTensor(in.readBytes());
                    initializers.put(t.name, t.tensor);
                }
                case 11 -> inputs.add(readValueInfoName(in.readBytes()));
                case 12 -> outputs.add(readValueInfoName(in.readBytes()));
                case 15 -> throw new UserException(origin + ": sparse initializers are not supported");
                default -> in.skipField(tag);
            }
        }
    }

    private static String readValueInfoName(ByteString b) throws IOException {
        CodedInputStream in = b.newCodedInput();
        while (true) {
            int tag = in.readTag();
            if (tag == 0) return "";
            if (WireFormat.getTagFieldNumber(tag) == 1) return in.readStringRequireUtf8();
            in.skipField(tag);
        }
    }

    private Node readNode(ByteString b) throws IOException {
        CodedInputStream in = b.newCodedInput();
        List<String> ins = new ArrayList<>();
        List<String> outs = new ArrayList<>();
        Map<String, Attribute> attrs = new LinkedHashMap<>();
        String name = "";
        String op = "";
        while (true) {
            int tag = in.readTag();
            if (tag == 0) break;
            switch (WireFormat.getTagFieldNumber(tag)) {
                case 1 -> ins.add(in.readStringRequireUtf8());
                case 2 -> outs.add(in.readStringRequireUtf8());
                case 3 -> name = in.readStringRequireUtf8();
                case 4 -> op = in.readStringRequireUtf8();
                case 5 -> {
                    Attribute a = readAttribute(in.readBytes());
                    attrs.put(a.name, a);
                }
                default -> in.skipField(tag);
            }
        }
        return new Node(name, op, List.copyOf(ins), List.copyOf(outs), attrs);
    }

    private Attribute readAttribute(ByteString b) throws IOException {
        CodedInputStream in = b.newCodedInput();
        String name = "";
        float f = 0;
        long i = 0;
        ByteString s = ByteString.EMPTY;
        HostTensor t = null;
        List<Long> ints = new ArrayList<>();
        List<Float> floats = new ArrayList<>();
        while (true) {
            int tag = in.readTag();
            if (tag == 0) break;
            int wire = WireFormat.getTagWireType(tag);
            switch (WireFormat.getTagFieldNumber(tag)) {
                case 1 -> name = in.readStringRequireUtf8();
                case 2 -> f = in.readFloat();
                case 3 -> i = in.readInt64();
                case 4 -> s = in.readBytes();
                case 5 -> t = readTensor(in.readBytes()).tensor;
                case 7 -> readFloats(in, wire, floats);
                case 8 -> readVarints(in, wire, ints);
                default -> in.skipField(tag);
            }
        }
        return new Attribute(name, f, i, s, t, List.copyOf(ints), List.copyOf(floats));
    }

    private record Tensor(String name, HostTensor tensor) {}

    private Tensor readTensor(ByteString b) throws IOException {
        CodedInputStream in = b.newCodedInput();
        in.setSizeLimit(Integer.MAX_VALUE);
        List<Long> dims = new ArrayList<>();
        int dataType = 0;
        String name = "";
        ByteString raw = null;
        // packed float_data / double_data are little-endian fixed-width values: keep their bytes as they come
        java.io.ByteArrayOutputStream floatBytes = new java.io.ByteArrayOutputStream();
        java.io.ByteArrayOutputStream doubleBytes = new java.io.ByteArrayOutputStream();
        List<Long> intData = new ArrayList<>(); // int32_data / int64_data
        boolean external = false;
        while (true) {
            int tag = in.readTag();
            if (tag == 0) break;
            int wire = WireFormat.getTagWireType(tag);
            switch (WireFormat.getTagFieldNumber(tag)) {
                case 1 -> readVarints(in, wire, dims);
                case 2 -> dataType = in.readInt32();
                case 4 -> readFixed(in, wire, 4, floatBytes);
                case 5, 7 -> readVarints(in, wire, intData);
                case 8 -> name = in.readStringRequireUtf8();
                case 9 -> raw = in.readBytes();
                case 10 -> readFixed(in, wire, 8, doubleBytes);
                case 14 -> external = in.readInt32() == 1;
                default -> in.skipField(tag);
            }
        }
        if (external) {
            throw new UserException(origin + ": tensor '" + name + "' is stored in an external data file; "
                    + "only self-contained .onnx files are supported");
        }
        long[] shape = dims.stream().mapToLong(Long::longValue).toArray();
        for (long d : shape)
            if (d < 0) throw new UserException(origin + ": tensor '" + name + "' has a negative dimension");
        long numel = HostTensor.numel(shape);
        DType dtype = switch (dataType) {
            case FLOAT -> DType.F32;
            case DOUBLE -> DType.F64;
            case FLOAT16 -> DType.F16;
            case BFLOAT16 -> DType.BF16;
            case INT64 -> DType.I64;
            case INT32 -> DType.I32;
            case INT8 -> DType.I8;
            case UINT8 -> DType.U8;
            case BOOL -> DType.BOOL;
            default -> null;
        };
        if (dtype == null) return new Tensor(name, null); // strings, uint16, complex: never weights of a BERT
        ByteBuffer data;
        if (raw != null) {
            data = raw.asReadOnlyByteBuffer();
        } else if (dtype == DType.F32 || dtype == DType.F64) {
            data = ByteBuffer.wrap((dtype == DType.F32 ? floatBytes : doubleBytes).toByteArray());
        } else {
            data = ByteBuffer.allocate(Math.toIntExact(numel * dtype.bytes)).order(ByteOrder.LITTLE_ENDIAN);
            int have = intData.size();
            if (have != numel) {
                throw new UserException(origin + ": tensor '" + name + "' of shape " + java.util.Arrays.toString(shape)
                        + " holds " + have + " values instead of " + numel + " (truncated?)");
            }
            for (int k = 0; k < numel; k++) {
                switch (dtype) {
                    case I64 -> data.putLong(intData.get(k));
                    case I32 -> data.putInt(intData.get(k).intValue());
                    case F16, BF16 -> data.putShort((short) intData.get(k).intValue());
                    default -> data.put((byte) intData.get(k).intValue());
                }
            }
            data.flip();
        }
        if (data.remaining() != numel * dtype.bytes) {
            throw new UserException(origin + ": tensor '" + name + "' of "
                    + "shape " + java.util.Arrays.toString(shape) + " and type "
                    + dtype + " has " + data.remaining() + " bytes of data instead of " + numel * dtype.bytes + " "
                    + "(truncated?)");
        }
        return new Tensor(name, new HostTensor(dtype, shape, data));
    }

    private static void readVarints(CodedInputStream in, int wire, List<Long> out) throws IOException {
        if (wire == WireFormat.WIRETYPE_LENGTH_DELIMITED) {
            int limit = in.pushLimit(in.readRawVarint32());
            while (in.getBytesUntilLimit() > 0) out.add(in.readInt64());
            in.popLimit(limit);
        } else {
            out.add(in.readInt64());
        }
    }

    /** Appends a packed (or single) fixed-width field's little-endian bytes. */
    private static void readFixed(CodedInputStream in, int wire, int width, java.io.ByteArrayOutputStream out)
            throws IOException {
        if (wire == WireFormat.WIRETYPE_LENGTH_DELIMITED) {
            out.write(in.readRawBytes(in.readRawVarint32()));
        } else {
            out.write(in.readRawBytes(width));
        }
    }

    private static void readFloats(CodedInputStream in, int wire, List<Float> out) throws IOException {
        if (wire == WireFormat.WIRETYPE_LENGTH_DELIMITED) {
            int limit = in.pushLimit(in.readRawVarint32());
            while (in.getBytesUntilLimit() > 0) out.add(in.readFloat());
            in.popLimit(limit);
        } else {
            out.add(in.readFloat());
        }
    }
}
