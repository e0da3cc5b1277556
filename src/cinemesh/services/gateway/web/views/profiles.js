// "Who's watching?": pick a profile, add one, edit one (name, colour, kids, maturity).
import { api, enc, listItems, session } from "../api.js";
import { AVATARS, avatar, h, spinner, toast } from "../ui.js";

const MAX_PROFILES = 5;
const RATINGS = ["G", "PG", "PG-13", "R", "NC-17"];

async function loadProfiles() {
  return listItems(await api.get("/profiles"));
}

function page(title, ...children) {
  return h(
    "div",
    { class: "profiles-page" },
    h("a", { class: "brand profiles-brand", href: "/", "data-link": true, "aria-label": "cinemesh home" }, "cinemesh"),
    h("h1", {}, title),
    ...children,
  );
}

function failed(main, error, retry) {
  main.replaceChildren(
    page(
      "Who's watching?",
      h("p", { class: "muted", role: "alert" }, error.status === 503 || error.status === 0 ? "Profiles are taking a break. Try again in a moment." : error.message),
      h("button", { class: "button", type: "button", onclick: retry }, "Try again"),
    ),
  );
}

export async function renderProfilePicker(ctx) {
  const { main, navigate, isCurrent } = ctx;
  main.replaceChildren(page("Who's watching?", spinner("Loading profiles")));
  let profiles;
  try {
    profiles = await loadProfiles();
  } catch (error) {
    if (isCurrent()) failed(main, error, () => renderProfilePicker(ctx));
    return;
  }
  if (!isCurrent()) return;
  if (!profiles.length) return navigate("/profiles/manage?first=1", { replace: true });
  const choose = (profile) => {
    session.profile = profile;
    navigate("/");
  };
  const list = h(
    "ul",
    { class: "profile-grid" },
    profiles.map((profile) =>
      h(
        "li",
        {},
        h(
          "button",
          { class: "profile-tile", type: "button", dataset: { profileId: profile.id }, onclick: () => choose(profile) },
          avatar(profile, "avatar-lg"),
          h("span", { class: "profile-name" }, profile.name),
          profile.kids ? h("span", { class: "badge" }, "Kids") : null,
        ),
      ),
    ),
    profiles.length < MAX_PROFILES
      ? h(
          "li",
          {},
          h("a", { class: "profile-tile profile-add", href: "/profiles/manage?add=1", "data-link": true }, h("span", { class: "avatar avatar-lg avatar-add", "aria-hidden": "true" }, "+"), h("span", { class: "profile-name" }, "Add Profile")),
        )
      : null,
  );
  main.replaceChildren(page("Who's watching?", list, h("a", { class: "button button-outline", href: "/profiles/manage", "data-link": true }, "Manage Profiles")));
  list.querySelector(".profile-tile")?.focus();
}

export async function renderManageProfiles(ctx) {
  const { main, navigate, isCurrent, query } = ctx;
  main.replaceChildren(page("Manage Profiles", spinner("Loading profiles")));
  let profiles;
  try {
    profiles = await loadProfiles();
  } catch (error) {
    if (isCurrent()) failed(main, error, () => renderManageProfiles(ctx));
    return;
  }
  if (!isCurrent()) return;
  const editor = h("div", { class: "profile-editor-slot" });
  const openEditor = (profile) => {
    editor.replaceChildren(profileForm({ profile, first: !profiles.length, onDone: () => renderManageProfiles({ ...ctx, query: {} }), onCancel: profiles.length ? () => editor.replaceChildren() : null }));
    editor.querySelector("input")?.focus();
  };
  const grid = h(
    "ul",
    { class: "profile-grid" },
    profiles.map((profile) =>
      h(
        "li",
        {},
        h(
          "button",
          { class: "profile-tile editing", type: "button", "aria-label": `Edit ${profile.name}`, onclick: () => openEditor(profile) },
          avatar(profile, "avatar-lg"),
          h("span", { class: "profile-name" }, profile.name),
          h("span", { class: "edit-mark", "aria-hidden": "true" }, "✎"),
        ),
      ),
    ),
    profiles.length < MAX_PROFILES
      ? h("li", {}, h("button", { class: "profile-tile profile-add", type: "button", onclick: () => openEditor(null) }, h("span", { class: "avatar avatar-lg avatar-add", "aria-hidden": "true" }, "+"), h("span", { class: "profile-name" }, "Add Profile")))
      : null,
  );
  const done = profiles.length ? h("button", { class: "button button-primary", type: "button", onclick: () => navigate("/profiles") }, "Done") : null;
  main.replaceChildren(page(profiles.length ? "Manage Profiles" : "Create your first profile", profiles.length ? grid : null, editor, done));
  if (!profiles.length || query.add) openEditor(null);
}

function profileForm({ profile, first, onDone, onCancel }) {
  const editing = Boolean(profile);
  const name = h("input", { type: "text", name: "name", required: true, maxlength: 40, value: profile?.name || "", autocomplete: "off" });
  const kids = h("input", { type: "checkbox", name: "kids", checked: Boolean(profile?.kids) });
  const autoplay = h("input", { type: "checkbox", name: "autoplay_next_episode", checked: profile?.autoplay_next_episode !== false });
  const maturity = h(
    "select",
    { name: "maturity" },
    RATINGS.map((rating) => h("option", { value: rating, selected: (profile?.maturity || "NC-17") === rating }, rating === "NC-17" ? "All maturity ratings" : `${rating} and below`)),
  );
  const syncKids = () => {
    maturity.disabled = kids.checked;
  };
  kids.addEventListener("change", syncKids);
  syncKids();
  const current = profile?.avatar && AVATARS.includes(profile.avatar) ? profile.avatar : AVATARS[0];
  const colours = h(
    "fieldset",
    { class: "avatar-picker" },
    h("legend", {}, "Icon colour"),
    AVATARS.map((colour) =>
      h("label", { class: "avatar-choice" }, h("input", { type: "radio", name: "avatar", value: colour, checked: colour === current }), h("span", { class: `avatar avatar-${colour}`, "aria-hidden": "true" }), h("span", { class: "visually-hidden" }, colour)),
    ),
  );
  const error = h("p", { class: "form-error", role: "alert", hidden: true });
  const save = h("button", { class: "button button-primary", type: "submit" }, editing ? "Save" : first ? "Continue" : "Add profile");
  const form = h(
    "form",
    { class: "profile-form", "aria-label": editing ? `Edit profile ${profile.name}` : "Add a profile" },
    h("h2", {}, editing ? "Edit Profile" : "Add Profile"),
    error,
    h("label", { class: "field" }, h("span", { class: "field-label" }, "Name"), name),
    h("label", { class: "check" }, kids, h("span", {}, "Kids profile"), h("span", { class: "muted small" }, " · only titles rated PG and below")),
    h("label", { class: "field" }, h("span", { class: "field-label" }, "Maturity"), maturity),
    h("label", { class: "check" }, autoplay, h("span", {}, "Play the next episode automatically"), h("span", { class: "muted small" }, " · a countdown at the credits")),
    colours,
    h(
      "div",
      { class: "form-actions" },
      save,
      onCancel ? h("button", { class: "button button-outline", type: "button", onclick: onCancel }, "Cancel") : null,
      editing ? h("button", { class: "button button-danger", type: "button", onclick: () => remove() }, "Delete profile") : null,
    ),
  );
  async function remove() {
    if (!confirm(`Delete the profile ${profile.name}? Its history, My List and ratings go with it.`)) return;
    try {
      await api.del(`/profiles/${enc(profile.id)}`);
      if (session.profile?.id === profile.id) session.profile = null;
      toast(`${profile.name} deleted`);
      onDone();
    } catch (problem) {
      error.textContent = problem.message;
      error.hidden = false;
    }
  }
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    save.disabled = true;
    error.hidden = true;
    const body = {
      name: name.value.trim(),
      kids: kids.checked,
      autoplay_next_episode: autoplay.checked,
      avatar: form.querySelector('input[name="avatar"]:checked')?.value || "red",
    };
    if (!kids.checked) body.maturity = maturity.value;
    try {
      const saved = editing ? await api.patch(`/profiles/${enc(profile.id)}`, body) : await api.post("/profiles", body);
      if (session.profile?.id === saved?.id) session.profile = saved;
      toast(editing ? "Profile saved" : `${saved?.name || body.name} added`);
      onDone(saved);
    } catch (problem) {
      error.textContent =
        problem.code === "PROFILE_LIMIT" ? "An account can have five profiles." : problem.status === 422 ? "Give the profile a name (40 characters at most)." : problem.message;
      error.hidden = false;
    } finally {
      save.disabled = false;
    }
  });
  return form;
}
