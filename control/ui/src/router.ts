/**
 * The UI's pages. Hash URLs (`/ui/#/inventory`): the server only ever
 * serves /ui/ itself, so no server needs a fallback rule for deep links.
 * Every page but the login needs a session; without one the login comes
 * first and then the page that was asked for.
 */
import { createRouter, createWebHashHistory } from "vue-router";
import { loggedIn, restore } from "./session";
import AccessView from "./views/AccessView.vue";
import BootView from "./views/BootView.vue";
import CloudInitView from "./views/CloudInitView.vue";
import ComponentsView from "./views/ComponentsView.vue";
import ComponentView from "./views/ComponentView.vue";
import DashboardView from "./views/DashboardView.vue";
import DiscoveryView from "./views/DiscoveryView.vue";
import LoginView from "./views/LoginView.vue";
import PowerView from "./views/PowerView.vue";

export const router = createRouter({
  history: createWebHashHistory(),
  routes: [
    { path: "/login", name: "login", component: LoginView, meta: { public: true, title: "Log in" } },
    { path: "/", name: "dashboard", component: DashboardView, meta: { title: "Dashboard" } },
    { path: "/inventory", name: "inventory", component: ComponentsView, meta: { title: "Inventory" } },
    { path: "/inventory/:id", name: "component", component: ComponentView, meta: { title: "Component" } },
    { path: "/boot", name: "boot", component: BootView, meta: { title: "Boot" } },
    { path: "/cloud-init", name: "cloud-init", component: CloudInitView, meta: { title: "Cloud-init" } },
    { path: "/power", name: "power", component: PowerView, meta: { title: "Power" } },
    { path: "/discovery", name: "discovery", component: DiscoveryView, meta: { title: "Discovery" } },
    { path: "/access", name: "access", component: AccessView, meta: { title: "Access" } },
    { path: "/:rest(.*)*", redirect: "/" },
  ],
});

router.beforeEach(async (to) => {
  if (to.meta.public || loggedIn() || (await restore())) return true;
  return { name: "login", query: to.fullPath === "/" ? {} : { next: to.fullPath } };
});

router.afterEach((to) => {
  const title = to.meta.title as string | undefined;
  document.title = title ? `${title} · Chamicore` : "Chamicore";
});
