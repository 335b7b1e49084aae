import dev.userstore.*;
import java.util.*;

public class GetLoop {
    static long sink;
    static long loop(UserStore s, long[] ids, int n) {
        long t0 = java.lang.management.ManagementFactory.getThreadMXBean().getCurrentThreadCpuTime();
        long acc = 0;
        for (int i = 0; i < n; i++) {
            User u = s.get(ids[i & (ids.length - 1)]);
            if (u != null) acc += u.getName().length();
        }
        sink += acc;
        return java.lang.management.ManagementFactory.getThreadMXBean().getCurrentThreadCpuTime() - t0;
    }
    public static void main(String[] a) throws Exception {
        int users = 1_000_000;
        UserStore nat = new NativeUserStore();
        UserStore kot = new KotlinUserStore();
        for (int i = 0; i < users; i++) { User u = new User(i, "user-" + i); nat.put(u); kot.put(u); }
        long[] ids = new long[Integer.getInteger("ids", 1 << 20)];
        Random r = new Random(42);
        for (int i = 0; i < ids.length; i++) ids[i] = r.nextInt(users);
        String only = a.length > 0 ? a[0] : "both";
        System.out.println("binding=" + NativeUserStore.binding() + " java=" + System.getProperty("java.version"));
        int n = 1 << 21;
        for (int round = 0; round < Integer.getInteger("rounds", 8); round++) {
            StringBuilder sb = new StringBuilder("round " + round);
            if (!only.equals("kotlin")) sb.append(String.format(" native %.1f", loop(nat, ids, n) / (double) n));
            if (!only.equals("native")) sb.append(String.format(" kotlin %.1f", loop(kot, ids, n) / (double) n));
            System.out.println(sb);
        }
        System.out.println(sink);
    }
}
