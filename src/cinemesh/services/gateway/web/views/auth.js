// Sign in and sign up.
import { session, signIn, signUp } from "../api.js";
import { h } from "../ui.js";

const PLANS = [
  { id: "basic", name: "Basic", detail: "1 screen · 720p" },
  { id: "standard", name: "Standard", detail: "2 screens · 1080p" },
  { id: "premium", name: "Premium", detail: "4 screens · 4K" },
];

function authPage(title, form, footer) {
  return h(
    "div",
    { class: "auth-page" },
    h("a", { class: "brand brand-large", href: "/login", "data-link": true, "aria-label": "cinemesh" }, "cinemesh"),
    h("section", { class: "auth-card", "aria-labelledby": "auth-title" }, h("h1", { id: "auth-title" }, title), form, footer),
  );
}

function field(label, input) {
  return h("label", { class: "field" }, h("span", { class: "field-label" }, label), input);
}

function errorBox() {
  return h("p", { class: "form-error", role: "alert", hidden: true });
}

function showError(box, message) {
  box.textContent = message;
  box.hidden = false;
}

function friendly(error) {
  if (error.status === 429) return "Too many attempts. Wait a moment and try again.";
  if (error.status === 401 || error.code === "INVALID_CREDENTIALS") return "That email and password don't match an account.";
  if (error.status === 409) return "An account with that email already exists. Sign in instead.";
  if (error.status === 422) return error.message || "Check the email and password.";
  if (error.status >= 500 || error.status === 0) return "Signing in isn't available right now. Try again shortly.";
  return error.message;
}

export function renderSignIn({ main, navigate }) {
  if (session.signedIn) return navigate("/profiles", { replace: true });
  const email = h("input", { type: "email", name: "email", autocomplete: "email", required: true });
  const password = h("input", { type: "password", name: "password", autocomplete: "current-password", required: true });
  const error = errorBox();
  const submit = h("button", { class: "button button-primary button-block", type: "submit" }, "Sign In");
  const form = h("form", { class: "auth-form", novalidate: false }, error, field("Email", email), field("Password", password), submit);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    submit.disabled = true;
    error.hidden = true;
    try {
      await signIn({ email: email.value.trim(), password: password.value });
      navigate("/profiles");
    } catch (problem) {
      showError(error, friendly(problem));
    } finally {
      submit.disabled = false;
    }
  });
  main.replaceChildren(
    authPage("Sign In", form, h("p", { class: "auth-footer" }, "New to cinemesh? ", h("a", { href: "/signup", "data-link": true }, "Sign up now"), ".")),
  );
  email.focus();
}

export function renderSignUp({ main, navigate }) {
  const email = h("input", { type: "email", name: "email", autocomplete: "email", required: true });
  const password = h("input", { type: "password", name: "password", autocomplete: "new-password", required: true, minlength: 8 });
  const plans = h(
    "fieldset",
    { class: "plans" },
    h("legend", {}, "Choose your plan"),
    PLANS.map((plan, i) =>
      h(
        "label",
        { class: "plan" },
        h("input", { type: "radio", name: "plan", value: plan.id, checked: i === 2 }),
        h("span", { class: "plan-name" }, plan.name),
        h("span", { class: "plan-detail" }, plan.detail),
      ),
    ),
  );
  const error = errorBox();
  const submit = h("button", { class: "button button-primary button-block", type: "submit" }, "Create account");
  const form = h("form", { class: "auth-form" }, error, field("Email", email), field("Password (8 or more characters)", password), plans, submit);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    submit.disabled = true;
    error.hidden = true;
    try {
      const plan = form.querySelector('input[name="plan"]:checked')?.value || "basic";
      await signUp({ email: email.value.trim(), password: password.value, plan });
      navigate("/profiles/manage?first=1");
    } catch (problem) {
      showError(error, friendly(problem));
    } finally {
      submit.disabled = false;
    }
  });
  main.replaceChildren(
    authPage("Sign Up", form, h("p", { class: "auth-footer" }, "Already have an account? ", h("a", { href: "/login", "data-link": true }, "Sign in"), ".")),
  );
  email.focus();
}
