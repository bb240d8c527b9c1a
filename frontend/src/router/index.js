import { createRouter, createWebHistory } from 'vue-router'
import { useAuthStore } from '@/stores/auth'

export const routes = [
  {
    path: '/',
    name: 'feed',
    meta: { title: 'feed.title' },
    component: () => import('@/views/feed/FeedView.vue'),
  },
  {
    path: '/feed/:id',
    name: 'feed-detail',
    component: () => import('@/views/feed/FeedDetailView.vue'),
    props: true,
  },
  {
    path: '/search',
    name: 'search',
    meta: { title: 'search.title' },
    component: () => import('@/views/search/SearchView.vue'),
  },
  {
    path: '/styles/new',
    name: 'style-create',
    component: () => import('@/views/styles/StyleCreateView.vue'),
    meta: { requiresAuth: true, requiresArtist: true, title: 'styleForm.createTitle' },
  },
  {
    path: '/styles/:id/edit',
    name: 'style-edit',
    component: () => import('@/views/styles/StyleEditView.vue'),
    props: true,
    meta: { requiresAuth: true, requiresArtist: true },
  },
  {
    path: '/styles/:id',
    name: 'style-detail',
    component: () => import('@/views/styles/StyleDetailView.vue'),
    props: true,
  },
  {
    path: '/me',
    name: 'my-page',
    component: () => import('@/views/account/MyPageView.vue'),
    meta: { requiresAuth: true, title: 'nav.myPage' },
  },
  {
    path: '/me/edit',
    name: 'edit-profile',
    component: () => import('@/views/account/EditProfileView.vue'),
    meta: { requiresAuth: true },
  },
  {
    path: '/me/artist',
    name: 'become-artist',
    component: () => import('@/views/account/BecomeArtistView.vue'),
    meta: { requiresAuth: true, title: 'artist.title' },
  },
  {
    path: '/users/:id',
    name: 'user-profile',
    component: () => import('@/views/users/UserProfileView.vue'),
    props: true,
  },
  {
    path: '/me/dashboard',
    name: 'artist-dashboard',
    component: () => import('@/views/artists/DashboardView.vue'),
    meta: { requiresAuth: true, requiresArtist: true },
  },
  {
    path: '/payment',
    name: 'payment',
    component: () => import('@/views/payment/PaymentView.vue'),
    meta: { requiresAuth: true, title: 'payment.title' },
  },
  {
    path: '/payment/sandbox',
    name: 'payment-sandbox',
    component: () => import('@/views/payment/PaymentSandboxView.vue'),
    meta: { requiresAuth: true },
  },
  {
    path: '/payment/success',
    name: 'payment-success',
    component: () => import('@/views/payment/PaymentSuccessView.vue'),
    meta: { requiresAuth: true },
  },
  {
    path: '/payment/fail',
    name: 'payment-fail',
    component: () => import('@/views/payment/PaymentFailView.vue'),
  },
  {
    path: '/notifications',
    name: 'notifications',
    component: () => import('@/views/notifications/NotificationsView.vue'),
    meta: { requiresAuth: true, title: 'notifications.title' },
  },
  {
    // The public certificate. The API's certificate_url spells it /licences/…: both open it.
    path: '/licenses/:serial',
    alias: '/licences/:serial',
    name: 'licence-certificate',
    meta: { title: 'licence.title' },
    component: () => import('@/views/provenance/LicenceCertificateView.vue'),
    props: true,
  },
  {
    path: '/generations/:generationId/licence',
    name: 'generation-licence',
    component: () => import('@/views/provenance/LicenceCertificateView.vue'),
    props: true,
  },
  {
    // The URL every file's metadata and certificate carries (versioned: it must stay valid).
    path: '/licence-terms/:version?',
    alias: '/license-terms/:version?',
    name: 'licence-terms',
    meta: { title: 'terms.title' },
    component: () => import('@/views/provenance/LicenceTermsView.vue'),
    props: true,
  },
  // Files made before the terms page existed point to /licence.
  { path: '/licence', redirect: { name: 'licence-terms' } },
  { path: '/license', redirect: { name: 'licence-terms' } },
  {
    path: '/verify',
    name: 'verify',
    meta: { title: 'verify.title' },
    component: () => import('@/views/provenance/VerifyView.vue'),
  },
  {
    path: '/login',
    name: 'login',
    meta: { title: 'login.title' },
    component: () => import('@/views/auth/LoginView.vue'),
  },
  {
    path: '/:pathMatch(.*)*',
    name: 'not-found',
    meta: { title: 'notFound.title' },
    component: () => import('@/views/NotFoundView.vue'),
  },
]

/** Only same-site paths are accepted as post-login destinations (no open redirects). */
export function safeRedirect(value) {
  if (typeof value !== 'string') return '/'
  if (!value.startsWith('/') || value.startsWith('//') || value.startsWith('/\\')) return '/'
  return value
}

/** The login/artist guard, exported for tests. */
export async function authGuard(to) {
  const needsAuth = to.matched.some((r) => r.meta.requiresAuth)
  const needsArtist = to.matched.some((r) => r.meta.requiresArtist)
  const auth = useAuthStore()
  // Public pages render at once (shell and skeletons) while the session is checked in parallel;
  // only pages that depend on who is signed in wait for the answer.
  if (!needsAuth && !needsArtist && to.name !== 'login' && !auth.loaded) {
    auth.ensureLoaded()
    return true
  }
  await auth.ensureLoaded()
  if (to.name === 'login' && auth.isLoggedIn) return safeRedirect(to.query.redirect)
  if (needsAuth && !auth.isLoggedIn) {
    return { name: 'login', query: { redirect: to.fullPath } }
  }
  if (needsArtist && !auth.isArtist) {
    return { name: 'become-artist', query: { reason: 'artist_only' } }
  }
  return true
}

export function createAppRouter(history = createWebHistory()) {
  const router = createRouter({
    history,
    routes,
    scrollBehavior(to, from, saved) {
      return saved || { top: 0 }
    },
  })
  router.beforeEach(authGuard)
  return router
}
