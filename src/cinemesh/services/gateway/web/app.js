// The cinemesh web app: routes, the signed-in guard and the top bar.
import { session, signOut } from "./api.js";
import { navigate, route, setGuard, start } from "./router.js";
import { avatar, h } from "./ui.js";
import { renderSignIn, renderSignUp } from "./views/auth.js";
import { renderHome, renderMyList } from "./views/home.js";
import { renderOps } from "./views/ops.js";
import { renderPlayer } from "./views/player.js";
import { renderManageProfiles, renderProfilePicker } from "./views/profiles.js";
import { renderSearch } from "./views/search.js";
import { renderTitle } from "./views/title.js";

const member = { auth: true, profile: true };

route("/login", renderSignIn, { public: true, bare: true, title: "Sign in" });
route("/signup", renderSignUp, { public: true, bare: true, title: "Sign up" });
route("/profiles", renderProfilePicker, { auth: true, bare: true, title: "Who's watching?" });
route("/profiles/manage", renderManageProfiles, { auth: true, bare: true, title: "Manage profiles" });
route("/", renderHome, { ...member, nav: "home", title: "Home" });
route("/my-list", renderMyList, { ...member, nav: "my-list", title: "My List" });
route("/title/:id", renderTitle, { ...member, title: "Title" });
route("/watch/:id", renderPlayer, { ...member, bare: true, title: "Watch" });
route("/search", renderSearch, { ...member, nav: "search", title: "Search" });
route("/ops", renderOps, { public: true, nav: "ops", title: "Ops" });
route("/404", renderNotFound, { public: true, title: "Not found" });

setGuard((options) => {
  if (options.public) return null;
  if (!session.signedIn) return "/login";
  if (options.profile && !session.profile) return "/profiles";
  return null;
});

function renderNotFound({ main }) {
  main.replaceChildren(
    h(
      "section",
      { class: "page narrow center" },
      h("h1", {}, "Lost your way?"),
      h("p", { class: "muted" }, "That page isn't on cinemesh."),
      h("a", { class: "button button-primary", href: "/", "data-link": true }, "cinemesh home"),
    ),
  );
}

let lastOptions = {};

function updateTopbar(options = lastOptions) {
  lastOptions = options;
  const bar = document.getElementById("topbar");
  bar.hidden = Boolean(options.bare) || (!session.signedIn && !options.nav);
  document.body.classList.toggle("bare", Boolean(options.bare));
  document.title = options.title ? `${options.title} · cinemesh` : "cinemesh";
  for (const link of bar.querySelectorAll("[data-nav]")) {
    if (link.dataset.nav === options.nav) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const profile = session.profile;
  const chip = document.getElementById("profile-chip");
  chip.hidden = !session.signedIn;
  document.getElementById("profile-chip-avatar").replaceWith(
    Object.assign(profile ? avatar(profile, "avatar-sm") : h("span", { class: "avatar avatar-sm" }), {
      id: "profile-chip-avatar",
    }),
  );
  document.getElementById("profile-chip-name").textContent = profile ? profile.name : "Account";
  document.body.classList.toggle("kids", Boolean(profile?.kids));
  for (const link of bar.querySelectorAll('[data-nav="home"], [data-nav="my-list"], [data-nav="search"]')) {
    link.hidden = !session.signedIn;
  }
}

function setUpAccountMenu() {
  const chip = document.getElementById("profile-chip");
  const menu = document.getElementById("account-menu");
  const close = () => {
    menu.hidden = true;
    chip.setAttribute("aria-expanded", "false");
  };
  chip.addEventListener("click", () => {
    const opening = menu.hidden;
    menu.hidden = !opening;
    chip.setAttribute("aria-expanded", String(opening));
    if (opening) menu.querySelector("a, button")?.focus();
  });
  menu.addEventListener("keydown", (event) => {
    const items = [...menu.querySelectorAll("a, button")];
    const index = items.indexOf(document.activeElement);
    if (event.key === "Escape") {
      close();
      chip.focus();
    } else if (event.key === "ArrowDown") {
      event.preventDefault();
      items[(index + 1) % items.length].focus();
    } else if (event.key === "ArrowUp") {
      event.preventDefault();
      items[(index - 1 + items.length) % items.length].focus();
    }
  });
  menu.addEventListener("click", () => close());
  document.addEventListener("click", (event) => {
    if (!event.target.closest(".account-menu")) close();
  });
  document.getElementById("sign-out").addEventListener("click", async () => {
    await signOut();
    navigate("/login");
  });
}

window.addEventListener("scroll", () => {
  document.getElementById("topbar").classList.toggle("scrolled", window.scrollY > 10);
});
document.addEventListener("routechange", (event) => {
  updateTopbar(event.detail.options);
  document.getElementById("main").focus({ preventScroll: true });
  window.scrollTo(0, 0);
});
document.addEventListener("profilechange", () => updateTopbar());
document.addEventListener("signedout", () => {
  if (location.pathname !== "/login") navigate("/login");
});

setUpAccountMenu();
start();
