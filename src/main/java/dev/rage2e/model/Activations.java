package dev.rage2e.model;

import ai.djl.ndarray.NDArray;

/** The activation functions HF configs name in {@code hidden_act} / {@code activation_function}. */
public final class Activations {
    private Activations() {}

    public static boolean isKnown(String name) {
        return switch (name) {
            case "gelu", "gelu_new", "gelu_pytorch_tanh", "gelu_fast", "relu", "tanh", "silu", "swish" -> true;
            default -> false;
        };
    }

    public static NDArray apply(String name, NDArray x) {
        return switch (name) {
            // exact erf GELU, as torch.nn.functional.gelu
            case "gelu" -> x.getNDArrayInternal().gelu();
            // tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
            case "gelu_new", "gelu_pytorch_tanh", "gelu_fast" ->
                Scalars.mul(x, 0.5f)
                        .mul(Scalars.mul(x.add(Scalars.mul(x.mul(x).mul(x), 0.044715f)), (float) Math.sqrt(2 / Math.PI))
                                .tanh()
                                .add(1f));
            case "relu" -> x.getNDArrayInternal().relu();
            case "tanh" -> x.tanh();
            case "silu", "swish" -> x.mul(x.getNDArrayInternal().sigmoid());
            default -> throw new IllegalArgumentException("unknown activation " + name);
        };
    }
}
