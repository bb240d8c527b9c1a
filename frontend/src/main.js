import { createApp } from 'vue'
import { createPinia } from 'pinia'
import App from './App.vue'
import { createAppRouter } from './router'
import { i18n, currentLocale } from './i18n'
import { setLocaleGetter } from './api/client'
import './style.css'

setLocaleGetter(currentLocale)

const app = createApp(App)
app.use(createPinia())
app.use(createAppRouter())
app.use(i18n)
app.mount('#app')
