import { createApp } from "vue";
import App from "./App.vue";
import { whenUnauthorized } from "./api";
import { router } from "./router";
import { forget } from "./session";
import "./style.css";

// A session that ends while the page is open (expired, revoked, logged out elsewhere): log in again,
// then come back to where the user was.
whenUnauthorized(() => {
  forget();
  const here = router.currentRoute.value;
  if (!here.meta.public) void router.push({ name: "login", query: { next: here.fullPath, expired: "1" } });
});

createApp(App).use(router).mount("#app");
