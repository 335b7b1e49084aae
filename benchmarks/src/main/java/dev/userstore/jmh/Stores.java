package dev.userstore.jmh;

import dev.userstore.KotlinUserStore;
import dev.userstore.NativeUserStore;
import dev.userstore.UserStore;
import dev.userstore.internal.binding.NativeBinding;
import dev.userstore.internal.binding.NativeCalls;

/** The contenders of the benchmarks, by the names their {@code store} parameter takes. */
final class Stores {
    private Stores() {}

    /**
     * A new empty store: {@code kotlin}; {@code native} (the JVM's default binding); {@code native-jni} or
     * {@code native-ffm} (the binding forced with {@code -Duserstore.binding}, which works because JMH runs each
     * parameter value in a JVM of its own and nothing touched the native store before). Prints the binding.
     */
    static UserStore open(String store) {
        switch (store) {
            case "kotlin":
                return new KotlinUserStore();
            case "native":
                break;
            case "native-jni":
                System.setProperty("userstore.binding", "jni");
                break;
            case "native-ffm":
                System.setProperty("userstore.binding", "ffm");
                break;
            default:
                throw new IllegalArgumentException("store must be native, native-jni, native-ffm or kotlin: " + store);
        }
        NativeUserStore target = new NativeUserStore();
        System.out.println("# userstore binding: " + NativeUserStore.binding() + " (JDK " + Runtime.version() + ")");
        return target;
    }

    /** The binding's raw calls (for the empty-call floor). */
    static NativeCalls calls() {
        return NativeBinding.INSTANCE.getCalls();
    }
}
