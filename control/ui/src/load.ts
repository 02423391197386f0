/**
 * A view's data as it loads: `data` once there, `problem` if the API said
 * no (or could not be reached), `loading` meanwhile. `reload()` asks again;
 * an answer to an older request never overwrites a newer one. A section
 * that `needs` a scope the session lacks is not asked for at all: `denied`
 * names the scope, and the view says so instead of showing a refusal.
 */
import { type Ref, ref, shallowRef } from "vue";
import { type ApiProblem, problemOf } from "./api";
import { can } from "./session";

export interface Load<T> {
  data: Ref<T | undefined>;
  problem: Ref<ApiProblem | undefined>;
  loading: Ref<boolean>;
  denied: Ref<string | undefined>;
  reload: () => Promise<void>;
}

export function useLoad<T>(fetch: () => Promise<T>, opts: { needs?: string } = {}): Load<T> {
  const data = shallowRef<T>();
  const problem = shallowRef<ApiProblem>();
  const loading = ref(false);
  const denied = ref<string>();
  let latest = 0;
  const reload = async () => {
    if (opts.needs && !can(opts.needs)) {
      denied.value = opts.needs;
      return;
    }
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
  return { data, problem, loading, denied, reload };
}

/**
 * Deleting one item of a list after the user confirmed it: which item is
 * being confirmed, the API's refusal if any, and the list read again once
 * it is gone.
 */
export function useDeletion(del: (id: string) => Promise<unknown>, after: () => Promise<void>) {
  const deleting = ref<string>();
  const problem = ref<ApiProblem>();
  const remove = async (id: string) => {
    try {
      await del(id);
      deleting.value = undefined;
      await after();
    } catch (e) {
      problem.value = problemOf(e);
    }
  };
  return { deleting, problem, remove };
}
