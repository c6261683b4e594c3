"""In-app notifications (WeCom and email delivery come with the channels)."""
