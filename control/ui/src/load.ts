/**
 * A view's data as it loads: `data` once there, `problem` if the API said
 * no (or could not be reached), `loading` meanwhile. `reload()` asks again;
 * an answer to an older request never overwrites a newer one.
 */
import { type Ref, ref, shallowRef } from "vue";
import { type ApiProblem, problemOf } from "./api";

export interface Load<T> {
  data: Ref<T | undefined>;
  problem: Ref<ApiProblem | undefined>;
  loading: Ref<boolean>;
  reload: () => Promise<void>;
}

export function useLoad<T>(fetch: () => Promise<T>): Load<T> {
  const data = shallowRef<T>();
  const problem = shallowRef<ApiProblem>();
  const loading = ref(false);
  let latest = 0;
  const reload = async () => {
    const mine = ++latest;
    loading.value = true;
    try {
      const value = await fetch();
      if (mine !== latest) return;
      data.value = value;
      problem.value = undefined;
    } catch (e) {
      if (mine !== latest) return;
      problem.value = problemOf(e);
    } finally {
      if (mine === latest) loading.value = false;
    }
  };
  return { data, problem, loading, reload };
}
